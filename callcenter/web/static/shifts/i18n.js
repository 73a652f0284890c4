// Texts of the rota page in Chinese and English (keys match data-i18n attributes and the
// API's error codes: err_<code>).
import { registerTexts, t } from "/static/common/common.js";

registerTexts({
  zh: {
    title: "排班", skip: "跳到主要内容", other_lang: "English", logout: "退出", login: "登录",
    username: "用户名", password: "密码", bad_login: "用户名或密码错误", too_many: "尝试次数过多，请稍后再试",
    main_nav: "页面", nav_shifts: "排班", nav_agent: "坐席工作台", nav_wallboard: "监控墙", nav_reports: "报表",
    role_agent: "坐席", role_team_leader: "组长", role_supervisor: "班长", role_admin: "管理员",
    role_planner: "排班员", role_qa_evaluator: "质检", role_security_admin: "安全管理员", role_audit_admin: "审计管理员",
    now_title: "当前班次", refresh: "刷新", on_shift: "在班", ending_soon: "即将下班（{m} 分钟内）",
    next: "接班（12 小时内）", nobody: "无", until: "至 {t}", from: "{t} 开始", as_of: "更新于 {t}",
    rota_title: "排班表", rota_caption: "每个班次的时间、开始日和成员", rota_empty: "还没有班次。",
    zone: "时区：{z}", new_shift: "新建班次",
    col_shift: "班次", col_time: "时间", col_days: "开始日", col_teams: "班组", col_members: "成员", col_actions: "操作",
    next_day: "次日", edit: "编辑", delete: "删除", edit_of: "编辑 {n}", delete_of: "删除 {n}",
    form_new: "新建班次", form_edit: "编辑班次 {n}",
    f_name: "标识", name_hint: "小写字母、数字、- 或 _", f_label: "名称", f_start: "开始", f_end: "结束",
    end_hint: "早于开始时间即为次日", f_days: "开始日（星期）", f_teams: "班组", f_users: "成员（个人）",
    save: "保存", cancel: "取消",
    d_mon: "周一", d_tue: "周二", d_wed: "周三", d_thu: "周四", d_fri: "周五", d_sat: "周六", d_sun: "周日",
    days_sep: "、", list_sep: "、", people_count: "{n} 人", others: "（另有 {n} 人属其他班组）",
    user_disabled: "{n}（已停用）", team_gone: "{n}（已删除）",
    saved_new: "班次“{n}”已添加", saved: "班次“{n}”已保存", deleted: "班次“{n}”已删除",
    confirm_delete: "删除班次“{n}”？", need_days: "请至少选择一个开始日。", same_times: "开始和结束不能相同。",
    need_fields: "请填写标识、名称、开始和结束时间。",
    err_stale: "未保存：其他人在您编辑期间修改了该班次，表单已更新为最新内容。",
    "err_shift-exists": "已有相同标识的班次。", "err_no-such-shift": "该班次已不存在。",
    "err_unknown-user": "有成员账号不存在或已停用。", "err_unknown-team": "有班组不存在。",
    "err_too-many-members": "一个班次最多 200 人。", "err_invalid-body": "请检查填写的内容。",
    "err_forbidden": "您没有修改排班的权限。", server_says: "服务器：",
    read_only: "您可以查看排班；修改请联系班长。",
  },
  en: {
    title: "Shifts", skip: "Skip to main content", other_lang: "中文", logout: "Log out", login: "Log in",
    username: "Username", password: "Password", bad_login: "Wrong username or password",
    too_many: "Too many attempts, try again later",
    main_nav: "Pages", nav_shifts: "Shifts", nav_agent: "Agent console", nav_wallboard: "Wallboard", nav_reports: "Reports",
    role_agent: "Agent", role_team_leader: "Team leader", role_supervisor: "Supervisor", role_admin: "Admin",
    role_planner: "Planner", role_qa_evaluator: "QA", role_security_admin: "Security admin", role_audit_admin: "Audit admin",
    now_title: "Shifts now", refresh: "Refresh", on_shift: "On shift", ending_soon: "Ending soon (within {m} min)",
    next: "Next (within 12 h)", nobody: "Nobody", until: "until {t}", from: "from {t}", as_of: "as of {t}",
    rota_title: "Rota", rota_caption: "Each shift's times, start days and people", rota_empty: "No shifts yet.",
    zone: "Time zone: {z}", new_shift: "New shift",
    col_shift: "Shift", col_time: "Time", col_days: "Starts on", col_teams: "Teams", col_members: "People", col_actions: "Actions",
    next_day: "next day", edit: "Edit", delete: "Delete", edit_of: "Edit {n}", delete_of: "Delete {n}",
    form_new: "New shift", form_edit: "Edit shift {n}",
    f_name: "Key", name_hint: "lower-case letters, digits, - or _", f_label: "Name", f_start: "Start", f_end: "End",
    end_hint: "before the start: the next day", f_days: "Starts on", f_teams: "Teams", f_users: "People (one by one)",
    save: "Save", cancel: "Cancel",
    d_mon: "Mon", d_tue: "Tue", d_wed: "Wed", d_thu: "Thu", d_fri: "Fri", d_sat: "Sat", d_sun: "Sun",
    days_sep: ", ", list_sep: ", ", people_count: "{n} people", others: "(and {n} of other teams)",
    user_disabled: "{n} (disabled)", team_gone: "{n} (deleted)",
    saved_new: "Shift “{n}” added", saved: "Shift “{n}” saved", deleted: "Shift “{n}” deleted",
    confirm_delete: "Delete shift “{n}”?", need_days: "Pick at least one start day.",
    same_times: "Start and end cannot be the same.", need_fields: "Fill in the key, name, start and end.",
    err_stale: "Not saved: someone changed this shift while you edited it; the form now shows their version.",
    "err_shift-exists": "A shift with this key exists already.", "err_no-such-shift": "This shift no longer exists.",
    "err_unknown-user": "A person is unknown or disabled.", "err_unknown-team": "A team is unknown.",
    "err_too-many-members": "A shift holds at most 200 people.", "err_invalid-body": "Check what you filled in.",
    "err_forbidden": "You may not change the rota.", server_says: "Server: ",
    read_only: "You can view the rota; ask a supervisor to change it.",
  },
});

/** `t(key)` with `{name}` placeholders filled. */
export function fill(key, values) {
  return t(key).replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}

/** aria-label of the nodes carrying data-i18n-label, in the current language. */
export function applyLabels(root = document) {
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
}
