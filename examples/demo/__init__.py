"""The demo panel: a minimal host with users and balances that loads PanelPay through ``plugin.yaml``."""
