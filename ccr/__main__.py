from ccr.cli.entry import main

main()
