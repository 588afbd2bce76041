"""Extractor library for the Dexory customer API: settings, HTTP client, pagination, flattening, simulator.

It never imports the Fivetran SDK; `connector.py` is the only module that does.
"""
