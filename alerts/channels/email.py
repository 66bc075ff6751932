"""E-mail through SMTP (smtplib): a plain-text part and an HTML part, user text HTML-escaped."""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from alerts.channels.base import NEEDS_FIX, Channel, Delivery, DeliveryError
from alerts.message import AlertMessage
from alerts.render import plain_lines
from crisiswatch.config import EmailSettings


class EmailChannel(Channel):
    """The target is a comma-separated list of recipients."""

    name = "email"
    keeps_claim = True

    def __init__(self, settings: EmailSettings, timeout: float | None = None) -> None:
        self.settings = settings
        self.timeout = timeout or settings.timeout  # each SMTP wait (build_channels keeps it under the lease)

    def build(self, message: AlertMessage, target: str, key: str | None = None) -> EmailMessage:
        lines = plain_lines(message)
        mail = EmailMessage()
        mail["Subject"] = lines[0].replace("\n", " ")[:200]
        mail["From"] = self.settings.sender
        mail["To"] = target
        # the outbox key as Message-ID lets a mail system drop the duplicate of a retried send
        domain = self.settings.sender.rsplit("@", 1)[-1] or "crisiswatch"
        mail["Message-ID"] = f"<{key.replace('|', '.').replace(' ', '_')}@{domain}>" if key else make_msgid()
        if message.thread_key:
            mail["References"] = f"<{message.thread_key.replace(':', '.')}@{domain}>"
        links = [f"{name}: {url}" for name, url in message.links.items()]
        mail.set_content("\n".join(lines + links))
        items = "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
        anchors = "".join(f'<a href="{html.escape(url, quote=True)}">{html.escape(name)}</a> '
                          for name, url in message.links.items() if url.startswith("http"))
        mail.add_alternative(f"<html><body><h3>{html.escape(lines[0])}</h3>{items}<p>{anchors}</p></body></html>",
                             subtype="html")
        return mail

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        s = self.settings
        recipients = [r.strip() for r in target.split(",") if r.strip()]
        if not recipients:
            raise DeliveryError("e-mail: no recipients", retryable=False)
        mail = self.build(message, ", ".join(recipients), key)
        try:
            smtp_cls = smtplib.SMTP_SSL if s.ssl else smtplib.SMTP
            with smtp_cls(s.host, s.port, timeout=self.timeout) as smtp:
                if s.starttls and not s.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username_env:
                    smtp.login(os.environ.get(s.username_env, ""), os.environ.get(s.password_env or "", ""))
                refused = smtp.send_message(mail, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"e-mail: every recipient refused ({len(exc.recipients)})", retryable=False) from None
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError("e-mail: SMTP login refused: check the SMTP user and password", kind=NEEDS_FIX,
                                scope="channel") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"e-mail: SMTP {exc.smtp_code}", retryable=exc.smtp_code >= 400 and
                                exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"e-mail: SMTP unreachable ({exc.__class__.__name__})") from None
        return Delivery(external_id=mail["Message-ID"] if not refused else None)
