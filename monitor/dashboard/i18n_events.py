"""What happened, in words: the incident page's timeline entries and the incident explanation sentences.

Timeline kinds are internal keys ("ticket.tasks_added", "step.page.done"); the page only ever shows
these texts, filled from the event's details. A kind without a text is shown as a generic action.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crisiswatch.mention import CATEGORY_LABELS
from monitor.dashboard.i18n import CATEGORY_EN
from playbooks.tickets.models import TIMER_LABELS

EVENTS: dict[str, tuple[str, str]] = {
    "incident.opened": ("事件开启，级别：{level}", "Incident opened, level {level}"),
    "incident.updated": ("信号持续", "Signal continued"),
    "incident.escalated": ("事件升级为{level}", "Incident escalated to {level}"),
    "incident.regraded": ("事件等级由{was}升为{grade}", "Incident graded {grade} (was {was})"),
    "incident.joined": ("相关信号并入本事件", "A related signal joined"),
    "incident.absorbed": ("并入 INC-{incident}", "Absorbed INC-{incident}"),
    "incident.merged": ("已并入 INC-{into}", "Merged into INC-{into}"),
    "incident.acknowledged": ("{by} 确认了事件", "{by} acknowledged the incident"),
    "incident.resolved": ("事件恢复正常", "Incident back to normal"),
    "incident.reopened": ("事件重新开启", "Incident reopened"),
    "incident.dismissed": ("{by} 判定为误报，事件关闭：{reason}", "{by} dismissed it as a false alarm: {reason}"),
    "step.notify.done": ("已发送告警", "Alert sent"),
    "step.notify.skipped": ("告警未发送（未配置接收方）", "Alert skipped (no route)"),
    "step.page.done": ("已启动升级呼叫", "Paging started"),
    "step.page.skipped": ("未配置升级策略，未呼叫", "No escalation policy: nobody paged"),
    "step.draft_statement.waiting": ("声明草稿已提交审批：{approvers}", "Statement draft sent for approval: {approvers}"),
    "step.draft_statement.done": ("声明已发布，预案步骤完成", "Statement published: step done"),
    "step.draft_statement.skipped": ("事件已结束，未发布声明", "Incident closed without a published statement"),
    "step.escalate_if.done": ("未及时确认，已升级", "Not acknowledged in time: escalated"),
    "step.escalate_if.skipped": ("已及时确认，无需升级", "Acknowledged in time: no escalation"),
    "step.escalate_if.waiting": ("等待确认，超时将升级", "Waiting for acknowledgement before escalating"),
    "step.close_when.done": ("工单已随事件关闭", "Ticket closed with the incident"),
    "step.close_when.waiting": ("待事件恢复、工单办结后关闭", "To close once the incident and ticket are done"),
    "escalation.start": ("开始逐级通知", "Escalation chain started"),
    "escalation.notify": ("逐级通知：第 {step} 级", "Escalation: level {step} notified"),
    "escalation.acknowledge": ("{actor} 确认，逐级通知停止", "{actor} acknowledged: escalation stopped"),
    "escalation.escalate_now": ("{actor} 要求立即升级", "{actor} escalated at once"),
    "escalation.closed": ("逐级通知结束", "Escalation chain closed"),
    "escalation.ack_stale": ("确认已过期，重新通知", "Acknowledgement went stale: notifying again"),
    "escalation.exhausted": ("已通知到最后一级，仍无人确认", "Every level notified, nobody acknowledged"),
    "ticket.created": ("开立工单 {ticket}（{severity}）", "Ticket {ticket} opened ({severity})"),
    "ticket.accept": ("工单已受理", "Ticket accepted"),
    "ticket.start": ("开始处理工单", "Work on the ticket started"),
    "ticket.reply": ("已回复客户", "Customer answered"),
    "ticket.resolve": ("工单已解决", "Ticket resolved"),
    "ticket.followup": ("已回访", "Followed up"),
    "ticket.followup_unreached": ("回访未联系上（第 {attempt}/{of} 次）", "回访: customer not reached (try {attempt} of "
                                  "{of})"),
    "ticket.paused": ("等待客户，SLA 暂停计时", "Waiting for the customer: SLA clocks stopped"),
    "ticket.resumed": ("客户已回复，SLA 恢复计时（时限顺延）", "The customer answered: SLA clocks run again (deadlines "
                       "moved)"),
    "ticket.merged": ("重复工单，已并入 {into}", "Duplicate: merged into {into}"),
    "ticket.merged_from": ("并入重复工单 {number}", "Duplicate {number} merged in"),
    "ticket.close": ("工单已关闭", "Ticket closed"),
    "ticket.reopen": ("工单重新打开", "Ticket reopened"),
    "ticket.dismissed": ("工单按误报关闭", "Ticket closed as a false alarm"),
    "ticket.statement_published": ("公开声明已发布，计为首次响应", "Public statement published: the first response"),
    "ticket.archive": ("工单已归档，记录冻结", "Ticket archived: its record is frozen"),
    "ticket.note": ("备注：{text}", "Note: {text}"),
    "ticket.assigned": ("指派给{department}", "Assigned to {department}"),
    "ticket.departments_added": ("增加协办部门：{departments}", "Departments added: {departments}"),
    "ticket.tasks_added": ("添加任务 {count} 项", "{count} tasks added"),
    "ticket.task_done": ("完成任务：{task}", "Task done: {task}"),
    "ticket.deadlines": ("调整了 SLA 时限", "SLA deadlines changed"),
    "ticket.deadlines_recomputed": ("工作日历更新（{years} 年节假日与调休），SLA 时限按新日历重算：{moves}",
                                    "Work calendar updated ({years} holidays and make-up days): SLA deadlines "
                                    "recomputed: {moves}"),
    "ticket.extended": ("办结时限延至 {until}（{approved_by} 批准）", "Resolution due moved to {until} (approved by "
                        "{approved_by})"),
    "ticket.classified": ("确认分类与级别：{what}{changes}", "Category and grade confirmed: {what}{changes}"),
    "ticket.joined": ("新增关联帖子 {mentions} 条", "{mentions} more posts joined"),
    "ticket.linked": ("关联到重复投诉 {related}（{reason}）", "Linked to repeat complaint {related} ({reason})"),
    "ticket.sla_reminder": ("SLA 提醒：{timer}即将到期", "SLA reminder: {timer} due soon"),
    "ticket.sla_breached": ("SLA 超时：{timer}，已升级至{escalated_to}", "SLA breached: {timer}, escalated to "
                            "{escalated_to}"),
    "ticket.sla_still_late": ("SLA 仍超时：{timer}已超时 {days} 天，再次报{told}", "Still late: {timer} {days} days "
                              "past due, {told} told again"),
    "statement.drafted": ("声明草稿已起草", "Statement drafted"),
    "statement.published": ("{actor} 发布了声明", "{actor} published the statement"),
    "statement.published_late": ("{actor} 发布了声明，已超出黄金时间", "{actor} published the statement, after the golden "
                                 "window"),
    "statement.rejected": ("声明被驳回", "Statement rejected"),
    "statement.expired": ("声明审批超时", "Statement approval expired"),
    "statement.revised": ("{actor} 修改了声明（第 {version} 版），重新提交审批", "{actor} revised the statement (version "
                          "{version}) and asked the approvers again"),
    "statement.resubmitted": ("{actor} 将声明原文重新提交审批（第 {version} 版）", "{actor} asked the approvers again, "
                              "text unchanged (version {version})"),
    "approval.request": ("请求审批声明：{approvers}", "Approval asked of {approvers}"),
    "approval.approved": ("{actor} 批准了声明", "{actor} approved the statement"),
    "approval.rejected": ("{actor} 驳回了声明", "{actor} rejected the statement"),
    "approval.refused": ("{actor} 无权审批，已拒绝", "{actor} may not approve: refused"),
    "approval.expired": ("声明审批超时", "Statement approval expired"),
    "approval.withdrawn": ("{actor} 撤回了声明审批（误报）", "{actor} withdrew the statement's approval (false alarm)"),
    "slack": ("{actor} 在 Slack 上操作", "{actor} acted in Slack"),
    "other": ("其他处理记录", "Other action"),
}
SIGNAL_KINDS = ("incident.updated", "incident.joined")  # the detectors' own repeats, not anyone's action
SIGNALS = ("信号持续，相关信号并入", "Signal continued, related signals joined")
LEVELS = {"warning": ("预警", "warning"), "critical": ("严重", "critical")}
STATEMENT_STATUS = {"none": ("尚未起草", "not drafted"), "draft": ("待审批", "awaiting approval"),
                    "approved": ("已批准，待发布", "approved, to publish"), "published": ("已发布", "published"),
                    "rejected": ("已驳回，待修改后重新提交", "rejected: to revise and resubmit"),
                    "expired": ("审批超时，待重新提交", "approval expired: to resubmit"),
                    "withdrawn": ("已撤回（误报）", "withdrawn (false alarm)")}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "—"


# what a person wrote or said with an event, shown under its line on the ticket page
SAID = {"note": ("备注", "Note"), "text": ("答复", "Reply"), "via": ("答复方式", "Via"),
        "satisfaction": ("满意度", "Satisfaction"), "comment": ("客户意见", "Comment")}
REPEAT_REASONS = {"same_author": ("同一作者", "same author"), "same_order": ("同一订单号", "same order number"),
                  "same_contact": ("同一联系方式", "same phone or e-mail"),
                  "same_customer": ("同一客户同一问题", "same customer, same grievance"),
                  "same_topic": ("同一问题", "same grievance"), "merged": ("重复工单已合并", "duplicate merged")}
TIMES = ("until", "due")  # detail values that are instants, shown in the team's time zone


def _value(value: Any, lang: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return "、".join(_value(v, lang) for v in value) if lang == "zh" else ", ".join(_value(v, lang) for v in value)
    return str(value)


def event_text(kind: str, actor: str, detail: dict[str, Any], lang: str, task_names: Sequence[str] = (),
               local: Callable[[str], str] | None = None) -> str:
    """One timeline line, from facts only (lists joined, levels, timers, categories and tasks named; instants in
    the team's time zone with `local`)."""
    key = "slack" if kind.startswith("slack.") else kind
    entry = EVENTS.get(key, EVENTS["other"])
    i = 0 if lang == "zh" else 1
    values = _Blank({k: _value(v, lang) for k, v in detail.items()})
    if local is not None:
        values.update({k: local(detail[k]) for k in TIMES if isinstance(detail.get(k), str)})
    if detail.get("category"):
        values["category"] = (CATEGORY_LABELS if lang == "zh" else CATEGORY_EN).get(detail["category"], detail["category"])
    values["actor"] = actor.removeprefix("slack:") or "—"
    if "level" in detail:
        values["level"] = LEVELS.get(detail["level"], (detail["level"],) * 2)[i]
    if "timer" in detail:
        values["timer"] = TIMER_LABELS.get(detail["timer"], detail["timer"]) if lang == "zh" else detail["timer"]
    if kind == "ticket.classified":  # what the agent set: the category, the grade or both
        values["what"] = " · ".join(values[k] for k in ("category", "severity") if detail.get(k))
        values["changes"] = _regrade_text(detail, lang, local)
    if kind == "ticket.deadlines_recomputed":
        values["years"] = "/".join(map(str, detail.get("years", []))) or "—"
        values["moves"] = _moves_text(detail.get("deadlines") or {}, lang, local)
    if kind == "ticket.linked" and detail.get("reason") in REPEAT_REASONS:
        values["reason"] = REPEAT_REASONS[detail["reason"]][i]
    if kind == "ticket.tasks_added":
        values["count"] = str(len(detail.get("items", [])))
    if kind == "ticket.task_done" and isinstance(detail.get("task"), int) and 0 < detail["task"] <= len(task_names):
        values["task"] = task_names[detail["task"] - 1]
    if kind.startswith("approval.") and "approvers" in detail:
        values["approvers"] = _value(detail["approvers"], lang)
    return entry[i].format_map(values)


def _moves_text(moved: dict[str, dict[str, str]], lang: str, local: Callable[[str], str] | None) -> str:
    """Each deadline that moved, `办结 01-20 18:00→01-21 18:00`, joined."""
    when = local or str
    zh = lang == "zh"
    parts = [f"{TIMER_LABELS.get(t, t) if zh else t} {when(m['from'])}→{when(m['to'])}" for t, m in moved.items()]
    return "、".join(parts) if zh else ", ".join(parts)


def _regrade_text(detail: dict[str, Any], lang: str, local: Callable[[str], str] | None) -> str:
    """What a new grade changed: each deadline that moved, and whether an approved extension still holds."""
    when = local or str
    zh = lang == "zh"
    out = ""
    moved = detail.get("deadlines") or {}
    if moved:
        parts = _moves_text(moved, lang, local)
        out += ("；时限调整：" + parts) if zh else ("; deadlines moved: " + parts)
    if detail.get("feedback_from") == "reply" and "feedback" in moved:
        out += "（结果反馈自首次回复起算）" if zh else " (feedback counted from the first reply)"
    extension = detail.get("extension")
    if isinstance(extension, dict):
        by, until = extension.get("approved_by", "—"), when(extension.get("until", ""))
        if extension.get("kept"):
            out += (f"；保留 {by} 批准的延期，办结仍为 {until}" if zh
                    else f"; the extension approved by {by} stays: resolution due {until}")
        else:
            out += (f"；新级别的办结时限晚于 {by} 批准的延期（{until}），延期不再适用" if zh
                    else f"; the new grade's resolution due is later than the extension approved by {by} ({until}): "
                         "it no longer applies")
    return out


def level_text(level: str, lang: str) -> str:
    return LEVELS.get(level, (level, level))[0 if lang == "zh" else 1]


def statement_status(status: str, lang: str) -> str:
    return STATEMENT_STATUS.get(status, (status, status))[0 if lang == "zh" else 1]


def ticket_timeline(events: list[dict[str, Any]], number: str, lang: str, local: Callable[[str], str],
                    task_names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The ticket page's record: each event in words, and under it what a person wrote or said with it (a note, the
    reply and its channel, the 回访 score and comment), never the stored fields themselves."""
    i = 0 if lang == "zh" else 1
    out = []
    for e in events:
        kind, detail = f"ticket.{e['kind']}", e["detail"] if isinstance(e["detail"], dict) else {}
        said = [(label[i], _value(detail[k], lang)) for k, label in SAID.items()
                if detail.get(k) not in (None, "", "default") and not (k == "text" and kind == "ticket.note")]
        out.append({"at": e["at"], "actor": e["actor"], "said": said,
                    "text": event_text(kind, e["actor"], {**detail, "ticket": number}, lang, task_names, local)})
    return out


def collapse_repeats(lines: list[dict[str, Any]], lang: str = "zh") -> list[dict[str, Any]]:
    """A run of the same line by the same actor, or of a signal that kept firing and others that joined it, as one
    line with how many times and until when: the record of a long incident stays a record of what was done."""
    out: list[dict[str, Any]] = []
    for line in lines:
        key = "signals" if line.get("kind") in SIGNAL_KINDS else (line["text"], line["actor"])
        last = out[-1] if out else None
        if last is not None and last["key"] == key:
            last["count"] += 1
            last["last"] = line["at"]
            if line["text"] != last["text"]:  # both kinds in the run
                last["text"] = SIGNALS[0 if lang == "zh" else 1]
        else:
            out.append({**line, "key": key, "count": 1, "last": line["at"]})
    return out
