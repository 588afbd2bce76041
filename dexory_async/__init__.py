"""Extractor library for the Dexory customer API: settings, HTTP client, pagination over many sites, flattening,
state. It never imports the Fivetran SDK; `connector.py` is the only module that does."""
