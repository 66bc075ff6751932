"""Alert routes, channels, escalation policies, digest and quiet hours."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from crisiswatch.config.base import CLOCK_TIME, EnvName, HttpURL, StrictModel, TimeZoneName
from crisiswatch.mention import SEVERITIES

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
SLACK_TEAM_ID = re.compile(r"T[A-Z0-9]{2,}")


class SlackSettings(StrictModel):
    token_env: EnvName = "SLACK_BOT_TOKEN"
    signing_secret_env: EnvName = "SLACK_SIGNING_SECRET"
    base_url: HttpURL | None = None
    channel: str = "#crisis-response"
    upload_charts: bool = Field(default=False, description="upload a PNG chart into the incident thread")
    users: dict[str, str] = Field(default_factory=dict, description="Slack user id (U...) -> the person's name as"
                                  " approvers and the dashboard name them; set, only these people use the buttons"
                                  " and /crisiswatch")
    team_id: str | None = Field(default=None, description="the Slack workspace (T0123ABCD) whose button clicks and"
                                " /crisiswatch commands are taken; unset: the bot token's, asked once with auth.test."
                                " A request from any other workspace is refused (403)")

    @field_validator("team_id")
    @classmethod
    def _team_id(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_TEAM_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a Slack workspace id (T0123ABCD: the T… in the workspace's"
                             " app.slack.com/client/T… address)")
        return value

    @field_validator("users")
    @classmethod
    def _user_ids(cls, value: dict[str, str]) -> dict[str, str]:
        # ids, never display or user names: anyone can take those, a guest or a shared channel's outsider too
        bad = [u for u in value if not SLACK_USER_ID.fullmatch(u)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a Slack user id (U0123ABCD, from the profile's 'Copy member ID')")
        return value


CHANNEL_TYPES = ("slack", "console", "slack_webhook", "wecom", "dingtalk", "feishu", "email")


WEBHOOK_CHANNELS = ("slack_webhook", "wecom", "dingtalk", "feishu")
# the hosts each platform issues robot webhook URLs on: a URL elsewhere (an internal address, a look-alike or
# typo'd host) would hand the robot's key to whoever answers there
ROBOT_HOSTS = {"wecom": ("qyapi.weixin.qq.com",), "dingtalk": ("oapi.dingtalk.com",),
               "feishu": ("open.feishu.cn", "open.larksuite.com"), "slack_webhook": ("hooks.slack.com",)}
ROBOT_NAMES = {"wecom": "WeCom robot", "dingtalk": "DingTalk robot", "feishu": "Feishu/Lark bot",
               "slack_webhook": "Slack webhook"}
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def robot_url_problem(channel: str, url: str, relay_hosts: list[str] | tuple[str, ...] = ()) -> str | None:
    """Why a robot webhook URL may not be posted to, or None: its host must be one the platform issues robot
    URLs on (over https), or a self-hosted relay named in alerts.webhook_relay_hosts. Says the host, never
    the URL: its path or query is the robot's key."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"its value is not a URL (expected https://{ROBOT_HOSTS[channel][0]}/...)"
    if host and host in {h.lower() for h in relay_hosts}:
        return None if parts.scheme in ("http", "https") else "a relay URL must be http(s)"
    official = ROBOT_HOSTS[channel]
    if host not in official:
        return (f"host {host or '(none)'!r} is not a {ROBOT_NAMES[channel]} host ({', '.join(official)}); for a"
                " self-hosted relay, add its host to alerts.webhook_relay_hosts")
    if parts.scheme != "https":
        return f"use https:// for {host}: the URL carries the robot's key"
    return None


class Route(StrictModel):
    name: str
    channel: Literal["slack", "console", "slack_webhook", "wecom", "dingtalk", "feishu", "email"] = "slack"
    target: str | None = Field(default=None, description="Slack channel, or e-mail recipients (comma-separated)")
    url_env: EnvName | None = Field(default=None, description="env var holding a webhook URL (it carries a token)")
    secret_env: EnvName | None = Field(default=None, description="env var holding a DingTalk/Feishu signing secret")
    brands: list[str] = Field(default_factory=list, description="empty = every brand")
    min_severity: str = "一般"

    @field_validator("min_severity")
    @classmethod
    def _grade(cls, value: str) -> str:
        if value not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value

    @model_validator(mode="after")
    def _needs_url(self) -> Route:
        if self.channel in WEBHOOK_CHANNELS and not self.url_env:
            raise ValueError(f"channel {self.channel} needs url_env (the env var holding the webhook URL)")
        if self.channel == "email" and not self.target:
            raise ValueError("channel email needs target (recipient addresses)")
        return self

    @property
    def address(self) -> str:
        """What the outbox stores as the target: a channel name, recipients, or a URL's env var name."""
        return self.url_env if self.channel in WEBHOOK_CHANNELS else (self.target or "")


class EscalationStep(StrictModel):
    after_minutes: float = Field(default=0, ge=0, description="delay after the previous step")
    notify: str = Field(description="'#channel', 'channel:target' or a mention such as <!subteam^S123>")
    label: str = ""


class EscalationPolicy(StrictModel):
    steps: list[EscalationStep] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, description="times to run the whole chain again while unacknowledged")
    stale_ack_minutes: float | None = Field(default=None, gt=0,
                                            description="an ack without resolution re-notifies after this")

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, value: Any) -> Any:
        return {"steps": value} if isinstance(value, list) else value


class EmailSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "crisiswatch@localhost"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = Field(default=10, gt=0)


class DigestSettings(StrictModel):
    enabled: bool = False
    max_severity: str = Field(default="一般", description="alerts at or below this grade wait for the digest")
    every_minutes: int = Field(default=60, ge=1)

    _grade = field_validator("max_severity")(Route._grade.__func__)


class QuietHours(StrictModel):
    start: str = Field(default="22:00", pattern=CLOCK_TIME)
    end: str = Field(default="08:00", pattern=CLOCK_TIME)
    max_severity: str = Field(default="一般", description="alerts at or below this grade wait until the end")

    _grade = field_validator("max_severity")(Route._grade.__func__)


class AlertSettings(StrictModel):
    timezone: TimeZoneName = "Asia/Shanghai"
    dashboard_url: HttpURL = "http://127.0.0.1:8470"
    slack: SlackSettings = Field(default_factory=SlackSettings)
    routes: list[Route] = Field(default_factory=lambda: [Route(name="response", channel="slack")])
    operator_route: Route | None = Field(default=None, description="source health, dead-man, outages and delivery"
                                         " failures; unset: the crisis routes")
    max_attempts: int = Field(default=8, ge=1, description="tries for a refusal crisiswatch does not know before it"
                              " fails; an outage (network, 5xx, timeouts, 429) is retried until it ends")
    operator_after_failures: int = Field(default=3, ge=1, description="failed sends before the operator hears")
    deadman_minutes: int = Field(default=15, ge=1)
    deadman_repeat_minutes: int = Field(default=60, ge=5, description="while the loop stays silent, the dead-man"
                                        " pages again this often (\"still silent for 2 h\")")
    chart_hours: int = Field(default=6, ge=1, le=72)
    email: EmailSettings = Field(default_factory=EmailSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    quiet_hours: QuietHours | None = None
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)
    webhook_relay_hosts: list[str] = Field(default_factory=list, description="hosts of a self-hosted relay that"
                                           " robot webhook URLs (url_env) may point at besides the platforms' own"
                                           " (qyapi.weixin.qq.com, oapi.dingtalk.com, open.feishu.cn,"
                                           " open.larksuite.com, hooks.slack.com); http allowed")
    outbox_lease_seconds: float = Field(default=120, gt=0, description="how long a deliverer holds a claimed alert;"
                                        " longer than one send with its lookup (Slack timeout x 2); robot webhook and SMTP waits"
                                        " are capped at a third of it, and their claim is renewed while they send")
    dependency_grace_minutes: float = Field(default=3, ge=0, description="an index/crawler/channel down this long"
                                            " raises one operator alert")

    @field_validator("webhook_relay_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        bad = [h for h in value if not _HOST_NAME.fullmatch(h)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a host name (give the host alone: relay.example.internal)")
        return value
