"""PanelPay as the README installs it (issue 15.16, 15.17): the wheel `python -m build` makes from the checkout
builds and installs in a fresh virtualenv without a packaging warning and runs `panelpay demo`, with its templates,
static files, translations and sandbox pages; the editable install `make` runs is quiet too."""
from __future__ import annotations

import re
import subprocess
import sys
import time
import venv

import pytest
import requests

import panelpay
from tests.support.packaging import ROOT, build_env, packaging_warnings, run
from tests.support.servers import free_port


def test_the_build_and_the_install_print_no_warning(installed_wheel):
    assert "Successfully built" in installed_wheel.build_output
    assert f"pip install 'dist/{installed_wheel.wheel.name}[postgres]'" in (ROOT / "README.md").read_text()
    assert packaging_warnings(installed_wheel.build_output) == []
    assert "Successfully installed" in installed_wheel.install_output
    assert packaging_warnings(installed_wheel.install_output) == []


@pytest.mark.parametrize("editable", [False, True], ids=["pip install .", "pip install -e ."])
def test_pip_install_from_the_checkout_prints_no_warning(tmp_path, editable):
    """`pip install .`, and what `make demo` and `make test` run (`pip install -e`, with the Makefile's
    QUIET_EDITABLE), without the dependencies, into a bare virtualenv."""
    venv.create(tmp_path, with_pip=False)
    quiet = re.search(r'^QUIET_EDITABLE := PYTHONWARNINGS="(.+)"$', (ROOT / "Makefile").read_text(), re.M).group(1)
    output = run([sys.executable, "-m", "pip", "--python", str(tmp_path / "bin" / "python"), "install",
                  "--no-deps", *(["-e"] if editable else []), str(ROOT)],
                 env={**build_env(), **({"PYTHONWARNINGS": quiet} if editable else {})})
    assert "Successfully installed panelpay" in output and packaging_warnings(output) == []


def test_the_installed_wheel_runs_panelpay_demo(installed_wheel, tmp_path):
    version = run([str(installed_wheel.script("panelpay")), "--version"], cwd=tmp_path)
    assert version == f"PanelPay {panelpay.__version__}\n"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen([str(installed_wheel.script("panelpay")), "demo", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any(f"{base}/" in line for line in lines):
            lines.append(demo.stdout.readline())
            assert lines[-1] and len(lines) < 20, lines
        deadline = time.monotonic() + 30
        while True:
            try:
                assert requests.get(f"{base}/login", timeout=1).status_code == 200  # the demo's templates
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        alice = requests.Session()
        assert alice.post(f"{base}/login", json={"username": "alice", "password": "alice"}).status_code == 200
        checkout = alice.get(f"{base}/payment/checkout", headers={"Accept-Language": "zh-CN"})
        assert checkout.status_code == 200 and re.search("[\u4e00-\u9fff]", checkout.text)  # templates, translations
        assert alice.get(f"{base}/payment/static/panelpay.css").status_code == 200
        epay = next(c for c in alice.get(f"{base}/payment/api/channels").json() if c["kind"] == "epay")
        order = alice.post(f"{base}/payment/api/orders", json={"channel": epay["uuid"], "amount": "1.00"}).json()
        cashier = requests.post(order["pay"]["url"], data=order["pay"]["fields"])  # the sandbox's pages
        assert cashier.status_code == 200 and order["trade_no"] in cashier.text
    finally:
        demo.terminate()
        demo.communicate(timeout=10)
