"""Schemathesis against PanelPay's own OpenAPI document: no 5xx on any endpoint, errors in the
contract's shape."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import World


@pytest.fixture
def api_world(make_app, sandbox):
    return World(make_app(PANELPAY_HTTP_TIMEOUT=0.5, PANELPAY_DOCTOR_TIMEOUT=0.5), sandbox,
                 configs=("epay", "alipay"))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_no_endpoint_answers_5xx(api_world):
    api_world.order("epay")
    schema = schemathesis.openapi.from_wsgi("/payment/api/openapi.json", api_world.app)
    cookie = api_world.admin.get_cookie("session").value
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19
    for operation in operations:
        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(cookies={"session": cookie})
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
            content_type = response.headers.get("Content-Type", [""])
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            if response.status_code >= 400 and content_type.startswith("application/json"):
                assert set(response.json()) == {"error", "message", "fields"}, response.text[:300]

        call()
