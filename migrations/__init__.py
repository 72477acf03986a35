"""PanelPay's Alembic migrations, with their own version table (``panelpay_alembic_version``)."""
