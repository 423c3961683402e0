"""Catalog ingestion: importers, validation and the in-memory catalog."""
from shoprank.catalog.catalog import Catalog, FileError, ImportResult
from shoprank.catalog.loaders import CATALOG_FORMATS, load_catalog_file
from shoprank.catalog.magento import load_magento

__all__ = ["CATALOG_FORMATS", "Catalog", "FileError", "ImportResult", "load_catalog_file", "load_magento"]
