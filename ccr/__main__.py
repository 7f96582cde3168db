from ccr.cli.main import app

app()
