"""Notification mail through a mail server that wants TLS and a sign-in (SMTP_SECURITY, SMTP_USERNAME,
SMTP_PASSWORD): a real SMTP server (aiosmtpd, in process) with a self-signed certificate the test trusts,
requiring STARTTLS or TLS from the start, and a password. A wrong password or no TLS sends nothing: the mail
goes back to 'pending' for another attempt."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import ssl
import uuid

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from marketplace.core import db
from marketplace.settings import SettingsError, load_settings
from suppliers.alerts import service as alerts
from tests.core.test_settings import production
from tests.suppliers.factories import active_supplier
from tests.suppliers.test_alerts import Inbox, _free_port

USER, PASSWORD = "alertas", "clave-del-correo"


def _certificate(folder) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its IP in the subjectAltName, as hostname checks want)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def _authenticator(server, session, envelope, mechanism, auth_data):  # aiosmtpd's authenticator hook
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=good, handled=False)  # (handled=False: aiosmtpd answers 535 itself on a failure)


@pytest.fixture(params=["starttls", "tls"])
def secure_smtp(request, settings, tmp_path, monkeypatch):
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client trusts the test's certificate (and only it)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), _free_port()
    # (aiosmtpd does not count a connection that was TLS from the start as TLS for AUTH: it is told so)
    tls = {"tls_context": context, "require_starttls": True} if request.param == "starttls" else {
        "ssl_context": context, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_required=True, **tls)
    controller.start()
    try:
        yield inbox, dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port,
                                         smtp_security=request.param, smtp_username=USER, smtp_password=PASSWORD,
                                         mail_from="alertas@mercado-abierto.pe")
    finally:
        controller.stop()


async def _notice(supplier) -> None:
    async with db.unit_of_work():
        await alerts.notify_suppliers(kind="tender_amended", tender_id=uuid.uuid4(), title="Compra de carpetas",
                                      event_key=f"test:{uuid.uuid4()}", notices={supplier.org_id: {
                                          "number": 1, "reason": "Se corrige el plazo", "material": False}})


async def _status() -> tuple[str, int]:
    row = await db.fetchrow("SELECT email_status, email_attempts FROM alert_notification")
    return row["email_status"], row["email_attempts"]


async def test_mail_goes_over_tls_signed_in(client, settings, secure_smtp):
    inbox, mail_settings = secure_smtp
    sup = await active_supplier(settings, ubigeo="080101")
    await _notice(sup)

    # A wrong password, then no TLS at all: refused, nothing delivered, the mail waits.
    assert await alerts.send_pending_emails(dataclasses.replace(mail_settings, smtp_password="otra")) == 0
    assert await _status() == ("pending", 1)
    if mail_settings.smtp_security == "starttls":
        assert await alerts.send_pending_emails(dataclasses.replace(mail_settings, smtp_security="none")) == 0
        assert await _status() == ("pending", 2)
    assert inbox.messages == []

    assert await alerts.send_pending_emails(mail_settings) == 1
    assert await _status() == ("sent", 3 if mail_settings.smtp_security == "starttls" else 2)
    [mail] = inbox.messages
    assert mail["To"] == sup.email and mail["X-Notice-Kind"] == "tender_amended"
    assert "Su oferta sigue vigente; no necesita hacer nada." in mail.get_content()


def test_smtp_settings_are_checked(tmp_path):
    base = {"DATA_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="^SMTP_USERNAME, SMTP_PASSWORD: give both or neither$"):
        load_settings({**base, "SMTP_USERNAME": USER}, persist_dev_keys=False)
    with pytest.raises(SettingsError, match='^SMTP_SECURITY: must be one of none, starttls, tls, got "ssl"$'):
        load_settings({**base, "SMTP_SECURITY": "ssl"}, persist_dev_keys=False)
    credentials = {"SMTP_HOST": "smtp.example.pe", "SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}
    s = load_settings({**base, **credentials}, persist_dev_keys=False)  # development: a local relay may do
    assert (s.smtp_security, s.smtp_username) == ("none", USER) and PASSWORD not in repr(s)
    with pytest.raises(SettingsError, match="SMTP_PASSWORD would cross the network in clear"):
        load_settings(production(tmp_path, **credentials), persist_dev_keys=False)
    s = load_settings(production(tmp_path, SMTP_SECURITY="starttls", SMTP_PORT="587", **credentials),
                      persist_dev_keys=False)
    assert (s.smtp_security, s.smtp_port) == ("starttls", 587)
