"""The compiled configuration and the two verbs every caller uses: route a request, open it."""
