"""Contract suites for the stores (``*_contract.py``), and the backends that must pass them."""
