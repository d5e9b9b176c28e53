"""The JSON API for the platforms around the ledger (12345 hotline, 好差评, the 一体化平台).

One front door at /api/v1/: tokens and rate limits (auth.py), the endpoints (views.py), the
problems it takes in (intake.py), and the webhooks it sends out (webhooks.py). Every endpoint
reads through the models' `visible_to` and changes items through ledgers/services.py, as the
pages do: the API has no rules of its own.
"""
