"""aupsite's REST API (Django REST framework), mounted under /api/.

Writes go through tracking.connector.DjangoConnector, so they mean exactly what the
connector's methods mean; tracking.client.RestConnector is the same connector over HTTP.
"""
