"""Interface text: Chinese by default, English with `?lang=en` (remembered in the session)."""

from __future__ import annotations

from crisiswatch.mention import CATEGORY_LABELS

LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "app": {"zh": "舆情监测", "en": "Crisis Watch"},
    "dashboard": {"zh": "舆情看板", "en": "Dashboard"},
    "mentions": {"zh": "舆情检索", "en": "Mentions"},
    "tickets": {"zh": "工单", "en": "Tickets"},
    "logout": {"zh": "退出", "en": "Log out"},
    "login": {"zh": "登录", "en": "Log in"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "brand": {"zh": "品牌", "en": "Brand"},
    "source": {"zh": "来源", "en": "Source"},
    "category": {"zh": "类别", "en": "Category"},
    "severity": {"zh": "等级", "en": "Severity"},
    "department": {"zh": "部门", "en": "Department"},
    "status": {"zh": "状态", "en": "Status"},
    "range": {"zh": "时间范围", "en": "Time range"},
    "sentiment": {"zh": "情感", "en": "Sentiment"},
    "all": {"zh": "全部", "en": "All"},
    "total": {"zh": "总声量", "en": "Mentions"},
    "negative": {"zh": "负面", "en": "Negative"},
    "neutral": {"zh": "中性", "en": "Neutral"},
    "positive": {"zh": "正面", "en": "Positive"},
    "unknown": {"zh": "未知", "en": "Unknown"},
    "negative_share": {"zh": "负面占比", "en": "Negative share"},
    "open_incidents": {"zh": "进行中事件", "en": "Open incidents"},
    "breached_tickets": {"zh": "超时工单", "en": "Tickets past SLA"},
    "timeline": {"zh": "声量趋势（按品牌，含事件标记）", "en": "Mentions over time (per brand, incidents marked)"},
    "sentiment_share": {"zh": "情感分布", "en": "Sentiment share"},
    "categories": {"zh": "问题类别", "en": "Categories"},
    "sources": {"zh": "来源分布", "en": "Sources"},
    "top_authors": {"zh": "高影响力作者", "en": "Top authors by reach"},
    "terms": {"zh": "热词", "en": "Trending terms"},
    "latest_negative": {"zh": "最新负面", "en": "Latest negative posts"},
    "followers": {"zh": "粉丝", "en": "Followers"},
    "posts": {"zh": "帖子", "en": "Posts"},
    "live": {"zh": "实时", "en": "Live"},
    "offline": {"zh": "连接中断，重连中…", "en": "Disconnected, retrying…"},
    "updated": {"zh": "更新于", "en": "Updated"},
    "no_incidents": {"zh": "暂无进行中事件", "en": "No open incident"},
    "ack_due": {"zh": "受理时限", "en": "Acknowledge by"},
    "resolve_due": {"zh": "解决时限", "en": "Resolve by"},
    "overdue": {"zh": "已超时", "en": "overdue"},
    "no_ticket": {"zh": "未建工单", "en": "no ticket"},
    "acked_by": {"zh": "已确认", "en": "acked by"},
    "not_acked": {"zh": "未确认", "en": "not acknowledged"},
    "search": {"zh": "搜索", "en": "Search"},
    "search_hint": {"zh": "全文搜索，如：快递 签收", "en": "Full-text search, e.g. 快递 签收"},
    "no_results": {"zh": "没有结果", "en": "No results"},
    "open_post": {"zh": "查看原帖", "en": "Open original"},
    "convert": {"zh": "转为投诉工单", "en": "Convert to complaint"},
    "converted": {"zh": "已转工单", "en": "Ticket opened"},
    "author": {"zh": "作者", "en": "Author"},
    "time": {"zh": "时间", "en": "Time"},
    "text": {"zh": "内容", "en": "Text"},
    "engagement": {"zh": "互动", "en": "Engagement"},
    "reasons": {"zh": "定级依据", "en": "Why this grade"},
    "language": {"zh": "语言", "en": "Language"},
    "number": {"zh": "编号", "en": "Number"},
    "title": {"zh": "标题", "en": "Title"},
    "sla": {"zh": "SLA", "en": "SLA"},
    "breached": {"zh": "已超时", "en": "Past SLA"},
    "on_time": {"zh": "正常", "en": "On time"},
    "timeline_events": {"zh": "处理记录", "en": "Timeline"},
    "note": {"zh": "备注", "en": "Note"},
    "add_note": {"zh": "添加备注", "en": "Add note"},
    "assign": {"zh": "指派", "en": "Assign"},
    "assignee": {"zh": "处理人", "en": "Assignee"},
    "satisfaction": {"zh": "满意度（1-5）", "en": "Satisfaction (1-5)"},
    "version_conflict": {"zh": "该工单已被他人更新（你看到的是第 {seen} 版，当前是第 {now} 版），请查看最新内容后重试。",
                         "en": "Someone else updated this ticket (you saw version {seen}, it is now {now}). "
                               "Review the latest state and try again."},
    "action_failed": {"zh": "操作失败：{reason}", "en": "Action failed: {reason}"},
    "forbidden": {"zh": "你的角色无权执行此操作", "en": "Your role may not do this"},
    "csrf": {"zh": "表单已过期，请刷新页面后重试", "en": "The form expired; reload the page and try again"},
    "bad_filter": {"zh": "无效的筛选条件", "en": "Invalid filter"},
    "not_found": {"zh": "未找到", "en": "Not found"},
    "accept": {"zh": "受理", "en": "Accept"},
    "start": {"zh": "开始处理", "en": "Start"},
    "reply": {"zh": "回复客户", "en": "Reply"},
    "resolve": {"zh": "解决", "en": "Resolve"},
    "followup": {"zh": "回访", "en": "Follow up"},
    "close": {"zh": "关闭", "en": "Close"},
    "reopen": {"zh": "重新打开", "en": "Reopen"},
    "incident": {"zh": "事件", "en": "Incident"},
    "created": {"zh": "创建", "en": "created"},
    "assigned": {"zh": "指派", "en": "assigned"},
    "joined": {"zh": "合并", "en": "joined"},
    "breach": {"zh": "超时", "en": "SLA breach"},
    "warning": {"zh": "预警", "en": "warning"},
    "critical": {"zh": "严重", "en": "critical"},
    "ticket_list": {"zh": "工单列表", "en": "Tickets"},
    "mentions_linked": {"zh": "关联舆情", "en": "Linked mentions"},
    "r1h": {"zh": "近1小时", "en": "Last hour"},
    "r6h": {"zh": "近6小时", "en": "Last 6 hours"},
    "r24h": {"zh": "近24小时", "en": "Last 24 hours"},
    "r7d": {"zh": "近7天", "en": "Last 7 days"},
    "r30d": {"zh": "近30天", "en": "Last 30 days"},
    "filter": {"zh": "筛选", "en": "Filter"},
    "share_hint": {"zh": "筛选条件保存在网址中，可直接分享", "en": "Filters live in the URL: share it"},
}

SOURCE_LABELS = {
    "zh": {"weibo": "微博", "weibo_comment": "微博评论", "jd": "京东", "tmall": "天猫",
           "tousu_sina": "黑猫投诉", "jutousu": "聚投诉", "x": "X"},
    "en": {"weibo": "Weibo", "weibo_comment": "Weibo comments", "jd": "JD", "tmall": "Tmall",
           "tousu_sina": "Heimao", "jutousu": "Jutousu", "x": "X"},
}

CATEGORY_EN = {
    "product_quality": "Product quality", "logistics": "Logistics", "after_sales": "After-sales / returns",
    "service_attitude": "Service attitude", "payment_billing": "Payment / billing / refunds",
    "fraud_security_privacy": "Fraud / account security / privacy", "price": "Price disputes",
    "false_advertising": "False advertising", "other": "Other",
}


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "zh"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = pick_lang(lang)

    def __call__(self, key: str, **values: object) -> str:
        entry = TEXT.get(key)
        text = entry[self.lang] if entry else key
        return text.format(**values) if values else text

    def source(self, key: str) -> str:
        return SOURCE_LABELS[self.lang].get(key, key)

    def category(self, key: str | None) -> str:
        if not key:
            return ""
        return CATEGORY_LABELS.get(key, key) if self.lang == "zh" else CATEGORY_EN.get(key, key)

    def labels(self) -> dict[str, object]:
        """What the browser scripts need: every interface string plus source and category names."""
        return {"text": {k: v[self.lang] for k, v in TEXT.items()}, "sources": SOURCE_LABELS[self.lang],
                "categories": {k: self.category(k) for k in CATEGORY_LABELS}}
