"""PUBLIC_BASE_URL, unset, is the address actually served (HOST:PORT), so OCDS URIs and bulk links work on
any port."""

from __future__ import annotations

from marketplace.settings import load_settings, override


def test_public_base_url_follows_host_and_port_unless_set(tmp_path):
    base = {"DATA_DIR": str(tmp_path)}
    assert load_settings(base, persist_dev_keys=False).public_base_url == "http://127.0.0.1:8000"
    s = load_settings({**base, "PORT": "9000"}, persist_dev_keys=False)
    assert s.public_base_url == "http://127.0.0.1:9000"
    s = load_settings({**base, "HOST": "0.0.0.0", "PORT": "9001"}, persist_dev_keys=False)
    assert s.public_base_url == "http://127.0.0.1:9001"
    s = load_settings({**base, "HOST": "::", "PORT": "9002"}, persist_dev_keys=False)
    assert s.public_base_url == "http://[::1]:9002"
    s = load_settings({**base, "PORT": "9000", "PUBLIC_BASE_URL": "https://mercado.example.pe"},
                      persist_dev_keys=False)
    assert s.public_base_url == "https://mercado.example.pe"
    # override (tools and tests): a derived address follows a new port; a set one stays
    assert override(load_settings(base, persist_dev_keys=False), {"PORT": "8123"}).public_base_url \
        == "http://127.0.0.1:8123"
    assert override(s, {"PORT": "8124"}).public_base_url == "https://mercado.example.pe"
    assert override(s, {"PUBLIC_BASE_URL": ""}).public_base_url == "http://127.0.0.1:9000"
