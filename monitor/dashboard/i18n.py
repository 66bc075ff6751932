"""Interface text: Chinese by default, English with `?lang=en` (remembered in the session)."""

from __future__ import annotations

from crisiswatch.mention import CATEGORY_LABELS, SOURCE_LABELS

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
    "version": {"zh": "修订号", "en": "Revision"},
    "repeated": {"zh": "（共 {n} 次，至 {until}）", "en": "({n} times, until {until})"},
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
    # the source gave no count (s.weibo.com's results): not 0
    "followers_unknown": {"zh": "粉丝数未知", "en": "followers unknown"},
    "posts": {"zh": "帖子", "en": "Posts"},
    "live": {"zh": "实时", "en": "Live"},
    "offline": {"zh": "连接中断，重连中…", "en": "Disconnected, retrying…"},
    # the stream ends with the session (an idle tab times out): the browser gives up, and says why it may have
    "stream_closed": {"zh": "连接已结束：登录可能已过期，请刷新页面", "en": "Disconnected: your session may have ended; reload the page"},
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
    "archived_note": {"zh": "已归档：记录已冻结，不能再修改或重开；如客户再次投诉，请登记新工单",
                      "en": "Archived: the record is frozen and cannot be changed or reopened; a new complaint is a new ticket"},
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
    # the index (OpenSearch, a SQLite file) cannot be read: one line, and the page says it will come back
    "index_down": {"zh": "舆情索引（{where}）暂时无法读取，请稍后再试；原因已写入服务日志",
                   "en": "The mention index ({where}) cannot be read right now; try again shortly (the cause is in the server log)"},
    "accept": {"zh": "受理", "en": "Accept"},
    "start": {"zh": "开始处理", "en": "Start"},
    "reply": {"zh": "回复客户", "en": "Reply"},
    "resolve": {"zh": "解决", "en": "Resolve"},
    "followup": {"zh": "回访", "en": "Follow up"},
    "followup_unreached": {"zh": "回访未联系上", "en": "Customer not reached"},
    "pause": {"zh": "等待客户（暂停计时）", "en": "Wait for the customer"},
    "waiting_since": {"zh": "等待客户（SLA 暂停）自", "en": "Waiting for the customer (SLA stopped) since"},
    "resume": {"zh": "客户已回复（恢复计时）", "en": "Customer answered"},
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
    # the incident page and its explanation
    "why_negative_spike": {"zh": "{minutes} 分钟内负面帖 {n} 条，平时同样时长约 {usual} 条{times}",
                           "en": "{n} negative posts in {minutes} min against a usual {usual}{times}"},
    "why_volume_spike": {"zh": "{minutes} 分钟内声量 {n} 条{scope}，这个时段平时约 {usual} 条{times}",
                         "en": "{n} posts{scope} in {minutes} min against a usual {usual} at this hour{times}"},
    "why_negative_share": {"zh": "{minutes} 分钟内 {total} 条中 {n} 条为负面（{share}），平时约 {usual}",
                           "en": "{n} of {total} posts negative in {minutes} min ({share}) against a usual {usual}"},
    "why_emerging_term": {"zh": "新词「{term}」{minutes} 分钟内出现在 {k}/{n} 条帖子中（{share}），平时约 {usual}",
                          "en": "「{term}」 in {k} of {n} posts in {minutes} min ({share}) against a usual {usual}"},
    "why_flatline": {"zh": "{source} 近 {minutes} 分钟仅采集到 {n} 条，平时约 {usual} 条，采集可能中断",
                     "en": "{source}: only {n} posts in {minutes} min against a usual {usual}; collection may "
                           "have stopped"},
    "why_peak": {"zh": "峰值 {peak}，平时约 {usual}", "en": "Peak {peak} against a usual {usual}"},
    "why_generic": {"zh": "检测到异常", "en": "Something unusual was detected"},
    "why_rarity": {"zh": "；偶然出现这种情况的概率{rarity}", "en": "; by chance {rarity}"},
    "why_baseline_gaps": {"zh": "；平时水平已略去近一周 {hours} 小时（{sources} 未采集）的数据",
                          "en": "; the usual level leaves out {hours} h of the last week when {sources} was not "
                                "collected"},
    "incident_page": {"zh": "事件详情", "en": "Incident"},
    "grade": {"zh": "等级", "en": "Grade"},
    "opened_at": {"zh": "开始于", "en": "Since"},
    "lasting": {"zh": "已持续", "en": "Lasting"},
    "lasted": {"zh": "持续", "en": "Lasted"},
    "resolved_at": {"zh": "恢复于", "en": "Resolved"},
    "false_alarm": {"zh": "误报", "en": "False alarm"},
    "golden_window": {"zh": "黄金时间（首次声明）", "en": "Golden window (first statement)"},
    "golden_left": {"zh": "剩余", "en": "left"},
    "statement": {"zh": "声明", "en": "Statement"},
    "published_at": {"zh": "发布于", "en": "published"},
    "why_fired": {"zh": "为什么告警", "en": "Why it fired"},
    "curve": {"zh": "声量与负面占比（阴影为事件期间，虚线为平时水平）",
              "en": "Volume and negative share (shaded: the incident; dashed: the usual level)"},
    "volume": {"zh": "声量", "en": "Volume"},
    "usual_level": {"zh": "平时水平", "en": "Usual level"},
    "partial_bucket": {"zh": "统计中", "en": "filling"},
    "spreading": {"zh": "正在传播", "en": "What is spreading"},
    "top_posts_reach": {"zh": "影响力最大的帖子", "en": "Widest-reaching posts"},
    "clusters": {"zh": "转发最多的相似内容", "en": "Largest near-duplicate clusters"},
    "copies": {"zh": "{n} 条相似", "en": "{n} copies"},
    "terms_sources": {"zh": "热词与来源", "en": "Terms and sources"},
    "being_done": {"zh": "处置进展", "en": "What is being done"},
    "tasks": {"zh": "任务", "en": "Tasks"},
    "owner": {"zh": "负责", "en": "Owner"},
    "done": {"zh": "已完成", "en": "Done"},
    "todo": {"zh": "待办", "en": "To do"},
    "no_tasks": {"zh": "暂无任务（尚未开立工单或剧本未添加任务）", "en": "No tasks (no ticket yet, or none added)"},
    "no_clusters": {"zh": "窗口内没有重复传播的内容", "en": "No post was copied in this window"},
    "no_events": {"zh": "暂无处置记录", "en": "Nothing done yet"},
    "no_posts": {"zh": "该时段没有帖子", "en": "No posts in this window"},
    "no_categories": {"zh": "该时段没有归类的问题帖", "en": "No post in this window was put in a category"},
    "open_incident": {"zh": "查看事件", "en": "Open incident"},
    "reach": {"zh": "粉丝", "en": "Followers"},
    "vs_previous": {"zh": "较上期", "en": "vs previous"},
    "negative_by_reach": {"zh": "负面帖（按影响力排序）", "en": "Negative posts by reach"},
    "of_total": {"zh": "共 {n} 条", "en": "{n} in all"},
    "more": {"zh": "加载更多", "en": "More"},
    "spreading_negative": {"zh": "事件期间的 {n} 条负面帖来自哪里、说什么", "en": "Where the incident's {n} negative posts "
                           "come from and what they are about"},
    "list_newest": {"zh": "最新 {n} 条，按时间倒序", "en": "The newest {n}, newest first"},
    "tickets_newest": {"zh": "显示最新 {n} 张，共 {total} 张；请用筛选缩小范围", "en": "The newest {n} of {total}; narrow the "
                       "filters to see the others"},
    "incidents_newest": {"zh": "以上为最新 {n} 起，共 {total} 起未结事件", "en": "The newest {n} of {total} open incidents"},
    "list_capped": {"zh": "更早的帖子请缩小时间范围或加关键词", "en": "for older posts, narrow the time range or add words"},
    "no_authors_source": {"zh": "该来源不提供作者信息", "en": "This source gives no authors"},
    "no_authors": {"zh": "该时段没有可识别作者的帖子", "en": "No post with a known author in this window"},
    "no_negative": {"zh": "该时段没有负面帖", "en": "No negative post in this window"},
    "no_terms": {"zh": "帖子太少，暂无热词", "en": "Too few posts for trending terms"},
    "reposts": {"zh": "转发", "en": "reposts"},
    "comments": {"zh": "评论", "en": "comments"},
    "likes": {"zh": "点赞", "en": "likes"},
    # sessions and accounts
    "login_throttled": {"zh": "登录失败次数过多，请 {minutes} 分钟后再试",
                        "en": "Too many failed logins: try again in {minutes} min"},
    "account": {"zh": "账号", "en": "Account"},
    "change_password": {"zh": "修改密码", "en": "Change password"},
    "current_password": {"zh": "当前密码", "en": "Current password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "confirm_password": {"zh": "再次输入新密码", "en": "New password again"},
    "password_ends_sessions": {"zh": "修改密码后，该账号在其他设备上的登录会立即失效。",
                               "en": "A new password ends this account's sessions everywhere else at once."},
    "wrong_current_password": {"zh": "当前密码不正确", "en": "The current password is wrong"},
    "bad_new_password": {"zh": "新密码至少 {n} 位，且两次输入须一致", "en": "The new password needs {n}+ characters,"
                                                                     " typed the same twice"},
    "password_changed": {"zh": "密码已修改，已结束 {n} 个登录会话", "en": "Password changed; {n} sessions ended"},
    "live_sessions": {"zh": "当前登录会话", "en": "Live sessions"},
    "signed_in": {"zh": "登录时间", "en": "Signed in"},
    "last_seen": {"zh": "最近活动", "en": "Last seen"},
    "address": {"zh": "地址", "en": "Address"},
    "revoke": {"zh": "注销此会话", "en": "Revoke"},
    "revoke_all": {"zh": "注销该用户全部会话", "en": "Revoke all of this user"},
}

# per-source health, as `crisiswatch sources check` and `crisiswatch status` name it
TEXT.update({
    "source_health": {"zh": "数据源状态", "en": "Source health"},
    "reason": {"zh": "原因", "en": "Reason"},
    "checked_at": {"zh": "时间", "en": "At"},
    "no_health": {"zh": "尚无抓取或检查记录：运行 crisiswatch sources check", "en": "No crawl or check yet: run crisiswatch sources check"},
    "health_ok": {"zh": "正常", "en": "ok"},
    "health_needs_cookie": {"zh": "需要登录凭证", "en": "needs a cookie"},
    "health_cookie_expired": {"zh": "登录凭证过期", "en": "cookie expired"},
    "health_needs_token": {"zh": "需要访问令牌", "en": "needs a token"},
    "health_token_refused": {"zh": "访问令牌被拒绝", "en": "token refused"},
    "health_blocked": {"zh": "被封禁", "en": "blocked"},
    "health_gated": {"zh": "需要签名", "en": "gated"},
    "health_invalid_request": {"zh": "请求无效", "en": "invalid request"},
    "health_layout_changed": {"zh": "页面结构变化", "en": "layout changed"},
    "health_unreachable": {"zh": "无法访问", "en": "unreachable"},
})

# the complaint desk's pages (intake, owners, replies, deadlines, statements)
TEXT.update({
    "new_ticket": {"zh": "登记投诉", "en": "New complaint"},
    "my_queue": {"zh": "我的工单", "en": "My queue"},
    "intake_channel": {"zh": "渠道", "en": "Channel"},
    "channel_phone": {"zh": "电话", "en": "Phone"}, "channel_email": {"zh": "邮件", "en": "E-mail"},
    "channel_chat": {"zh": "在线客服", "en": "Chat"}, "channel_app": {"zh": "应用内反馈", "en": "In-app"},
    "channel_social": {"zh": "社交媒体", "en": "Social media"},
    "channel_third_party": {"zh": "第三方平台", "en": "Third-party site"},
    "customer": {"zh": "客户", "en": "Customer"},
    "contact": {"zh": "联系方式", "en": "Phone or e-mail"},
    "summary": {"zh": "投诉内容", "en": "Complaint"},
    "expectation": {"zh": "诉求", "en": "Asks for"},
    "order_no": {"zh": "订单号", "en": "Order number"},
    "suggest": {"zh": "识别类别与等级", "en": "Suggest category and grade"},
    "suggested": {"zh": "系统建议", "en": "Suggested"},
    "alternative": {"zh": "其次可能", "en": "else perhaps"},
    "confirm_intake": {"zh": "确认并登记", "en": "Confirm and open"},
    "owner": {"zh": "负责人", "en": "Owner"},
    "response_due": {"zh": "首次响应时限", "en": "First response due"},
    "feedback_due": {"zh": "结果反馈时限", "en": "Result due"},
    "followup_due": {"zh": "回访时限", "en": "Follow-up due"},
    "extended_by": {"zh": "延期审批", "en": "extension approved by"},
    "reply_via": {"zh": "答复方式", "en": "Replied via"},
    "reply_text": {"zh": "答复内容（按模板填写）", "en": "Reply (fill in the template)"},
    "send_reply": {"zh": "发送答复", "en": "Send reply"},
    "approved_by": {"zh": "审批人", "en": "Approved by"},
    "extend": {"zh": "申请延期", "en": "Extend"},
    "merge": {"zh": "作为重复工单并入", "en": "Merge as a duplicate into"},
    "merge_into": {"zh": "保留的工单号 CW-…", "en": "Ticket kept, CW-…"},
    "close_reason": {"zh": "不满意仍结案的原因（留空则退回处理）", "en": "Dissatisfied but closed: why (empty: handled again)"},
    "extended": {"zh": "延期", "en": "Extended"},
    "classified": {"zh": "确认类别", "en": "Classified"},
    "classify": {"zh": "更正类别与级别", "en": "Correct category and grade"},
    "checklist": {"zh": "处理清单", "en": "Checklist"},
    "tick_task": {"zh": "勾选为已完成", "en": "Tick off"},
    "statements": {"zh": "声明", "en": "Statements"},
    "statements_about": {"zh": "预案起草的对外声明：审批后在黄金时间内发布", "en": "drafted by playbooks: approve, then publish "
                         "within the golden window"},
    "no_statements": {"zh": "暂无声明。危机预案起草声明后，会在这里等待审批和发布。",
                      "en": "No statement yet. When a playbook drafts one, it waits here for approval and publishing."},
    "statement_draft": {"zh": "草稿", "en": "Draft"}, "statement_approved": {"zh": "已批准", "en": "Approved"},
    "statement_published": {"zh": "已发布", "en": "Published"}, "statement_rejected": {"zh": "已驳回", "en": "Rejected"},
    "statement_expired": {"zh": "已过期", "en": "Expired"},
    "missed_window": {"zh": "超出黄金时间", "en": "Missed the golden window"},
    "golden_window_ends": {"zh": "黄金时间截止", "en": "Golden window ends"},
    "approvers": {"zh": "审批人", "en": "Approvers"},
    "published": {"zh": "发布于", "en": "Published"},
    "approve": {"zh": "批准", "en": "Approve"}, "reject": {"zh": "驳回", "en": "Reject"},
    "publish": {"zh": "发布", "en": "Publish"},
    "publish_refused": {"zh": "{user} 不是这份声明的审批人，不能发布：只有审批人（{approvers}）或管理员可以发布。",
                        "en": "{user} is not an approver of this statement and may not publish it: only its approvers "
                              "({approvers}) or an admin can."},
    "revise_hint_rejected": {"zh": "{by} 驳回了这份声明，尚未发布。可修改文本后重新提交，或原文重新提交：审批人（{approvers}）会收到新的审批请求。",
                             "en": "Rejected by {by}, nothing published yet. Revise the text or send it again as it is: "
                                   "the approvers ({approvers}) get a new request."},
    "revise_hint_expired": {"zh": "审批请求超时无人处理，尚未发布。可修改文本后重新提交，或原文重新提交：审批人（{approvers}）会收到新的审批请求。",
                            "en": "The approval request expired unanswered, nothing published yet. Revise the text or send "
                                  "it again as it is: the approvers ({approvers}) get a new request."},
    "revise_text": {"zh": "声明文本（按原样发布，不作为模板）", "en": "Statement text (published as written, not a template)"},
    "revise": {"zh": "提交修改稿审批", "en": "Send the revised text for approval"},
    "resubmit": {"zh": "原文重新提交审批", "en": "Ask again, unchanged"},
    "earlier_versions": {"zh": "历史版本（{n}）", "en": "Earlier versions ({n})"},
    "version_n": {"zh": "第 {n} 版", "en": "version {n}"},
    "version_revised": {"zh": "{by} 于 {at} 修改", "en": "revised by {by} at {at}"},
    "version_resubmitted": {"zh": "{by} 于 {at} 重新提交", "en": "sent again by {by} at {at}"},
    "publish_only_approvers": {"zh": "批准后由审批人或管理员发布", "en": "Approved: its approvers or an admin publish it"},
})

CATEGORY_EN = {
    "product_quality": "Product quality", "logistics": "Logistics", "after_sales": "After-sales / returns",
    "service_attitude": "Service attitude", "payment_billing": "Payment / billing / refunds",
    "fraud_security_privacy": "Fraud / account security / privacy", "price": "Price disputes",
    "false_advertising": "False advertising", "other": "Other",
}


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "zh"


LANGUAGE_NAMES = {"zh": ("中文", "Chinese"), "en": ("英文", "English"), "ja": ("日文", "Japanese"),
                  "ko": ("韩文", "Korean"), "und": ("无法判断", "Undetermined")}


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = pick_lang(lang)

    def __call__(self, key: str, **values: object) -> str:
        entry = TEXT.get(key)
        text = entry[self.lang] if entry else key
        return text.format(**values) if values else text

    def source(self, key: str) -> str:
        return SOURCE_LABELS[self.lang].get(key, key)

    def language(self, code: str | None) -> str:
        """A post's language by name (the code itself for a language without one here)."""
        names = LANGUAGE_NAMES.get(code or "")
        return names[0 if self.lang == "zh" else 1] if names else (code or "")

    def category(self, key: str | None) -> str:
        if not key:
            return ""
        return CATEGORY_LABELS.get(key, key) if self.lang == "zh" else CATEGORY_EN.get(key, key)

    def labels(self) -> dict[str, object]:
        """What the browser scripts need: every interface string plus source and category names."""
        return {"text": {k: v[self.lang] for k, v in TEXT.items()}, "sources": SOURCE_LABELS[self.lang],
                "categories": {k: self.category(k) for k in CATEGORY_LABELS},
                "languages": {k: self.language(k) for k in LANGUAGE_NAMES}}
