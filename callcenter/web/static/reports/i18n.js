// Texts of the reports page and the agent's scorecard in Chinese and English (keys match
// data-i18n attributes and the API's codes: dim_ dimensions, int_ intervals, level_ routing
// levels, err_ refusals), and how both pages write a figure's value in the current language:
// ratios as "87.5 %", seconds as "1:05" or "2 h 03 min", counts as integers, none as "—".
import { registerTexts, t, getLang } from "/static/common/common.js";

registerTexts({
  zh: {
    title_reports: "报表", title_scorecard: "坐席考核", skip: "跳到主要内容", other_lang: "English",
    logout: "退出", login: "登录", username: "用户名", password: "密码",
    bad_login: "用户名或密码错误", too_many: "尝试次数过多，请稍后再试",
    not_staff: "报表仅供组长、班长和管理员使用；坐席请查看「坐席考核」。",
    not_allowed_card: "您的角色没有坐席考核。",
    main_nav: "页面", nav_reports: "报表", nav_scorecard: "坐席考核", nav_wallboard: "监控墙",
    nav_work: "工单管理", nav_agent: "坐席工作台",
    role_agent: "坐席", role_team_leader: "组长", role_supervisor: "班长", role_admin: "管理员",
    role_planner: "排班", role_qa_evaluator: "质检",
    loading: "正在读取…", none: "—", failed: "失败", server_says: "服务器：", all: "全部",
    // the report's controls
    sections: "报表分区", tab_report: "报表", tab_episodes: "路由事件",
    what: "报表内容", report: "报表", custom: "自定义（选择指标）", custom_report: "自定义报表", figures: "指标",
    figures_hint: "选择要显示的指标（可多选）", dimension: "维度", interval: "时间粒度",
    dim_none: "不分组", dim_queue: "队列", dim_team: "班组", dim_agent: "坐席",
    dim_category: "小结类别", dim_disposition: "小结结果", dim_hour: "小时", dim_weekday: "星期",
    int_total: "整个期间", int_15min: "15 分钟", int_hour: "小时", int_day: "天", int_week: "周",
    int_month: "月", int_quarter: "季度", int_year: "年",
    period: "期间", start: "开始日期", end: "结束日期", quick: "快捷期间",
    q_this_month: "本月", q_yesterday: "昨天", q_7d: "近 7 天", q_last_month: "上月", q_this_year: "今年",
    filters: "筛选（可选）", queue: "队列", team: "班组", agent: "坐席",
    all_queues: "全部队列", all_teams: "全部班组", all_agents: "全部坐席",
    compare: "与上一期对比", run: "运行报表",
    pick_figure: "自定义报表请至少选择一个指标。", bad_range: "结束日期不能早于开始日期。",
    running: "正在查询…", shown: "已显示：{r}，{p}。", range: "{s} 至 {e}",
    // the report's answer
    export: "导出", export_csv: "导出 CSV", export_xlsx: "导出 Excel（XLSX）",
    chart: "图表", chart_figure: "图表指标", chart_by: "{f}，按{d}", chart_over: "{f}，按{i}",
    chart_cap: "图中显示数值最大的 {n} 项（共 {m} 项），完整数据见表格。",
    chart_alt: "图表：{t}。数据见下表。",
    table: "数据表", col_period: "期间", col_scope: "范围", totals: "合计",
    previous: "上期合计", change: "变化",
    target_min: "目标 ≥ {v}", target_max: "目标 ≤ {v}",
    below: "低于目标", above: "高于目标上限",
    legend_marks: "▼ 低于目标，▲ 高于目标上限：未达标的数值另以红色底色标出。",
    no_rows: "此期间没有数据。", pt: "个百分点",
    p_week: "{d} 起一周", p_month: "{y} 年 {m} 月", p_quarter: "{y} 年第 {q} 季度", p_year: "{y} 年",
    d_hm: "{h} 小时 {m} 分",
    // routing episodes
    ep_title: "路由事件（排队高峰）", ep_search: "查询", ep_queue: "队列", ep_started: "开始",
    ep_ended: "结束", ep_duration: "持续", ep_peak_waiting: "最多等待人数", ep_peak_wait: "最长等待",
    ep_calls: "受影响来电", ep_levels: "级别变化", ep_summary: "摘要", ep_open: "进行中",
    ep_none: "此期间没有路由事件。", ep_count: "共 {n} 个路由事件", ep_caption: "路由事件，按开始时间倒序",
    ep_pbx: "PBX", ep_show: "查看摘要",
    level_normal: "正常", level_warning: "预警", level_surge: "高峰", level_recovery: "恢复",
    sum_started_at: "开始", sum_ended_at: "结束", sum_duration_seconds: "持续",
    sum_levels: "级别变化", sum_peak_callers_waiting: "最多等待人数",
    sum_peak_longest_wait: "最长等待", sum_calls_affected: "受影响来电",
    // the scorecard
    sc_agent: "坐席", sc_self: "本人", sc_year: "年度", sc_show: "查看",
    sc_heading: "{n} · {y} 年", sc_month: "月份", sc_team: "团队",
    sc_caption: "{n} 每月指标（每格下方灰色为团队数值）",
    sc_team_note: "团队数值：比率为全组的比率，数量与时长为全组合计。",
    sc_no_team: "该坐席不属于任何班组，没有团队数值。",
    sc_no_data: "本年度没有数据。", sc_chart: "满意度与服务指标（按月）",
    sc_chart_alt: "折线图：{n} 每月的满意度与服务指标。数据见上表。", sc_team_of: "{f}（团队）",
    m_short: "{m} 月",
    // the appraisal
    ap_section: "月度考核表", ap_month: "考核月份", ap_print: "打印考核表",
    ap_title: "坐席月度考核表", ap_agent: "坐席", ap_period: "考核月份", ap_printed: "制表日期",
    ap_figure: "考核指标", ap_value: "本人", ap_target: "目标", ap_team: "团队", ap_result: "结果",
    ap_met: "✓ 达标", ap_not_met: "✗ 未达标", ap_no_target: "无目标", ap_no_value: "无数据",
    ap_comments: "评语", ap_sign_agent: "坐席签字", ap_sign_leader: "组长签字", ap_date: "日期",
    ap_none: "请先选择有数据的月份。", ap_preview: "下方为考核表的打印预览；打印时只打印考核表。",
    // refusals
    "err_report-too-fine": "所选时间粒度太细：这些数据没有按此粒度保存，请选择更长的粒度或更短的期间",
    "err_not-your-scorecard": "坐席只能查看自己的考核", "err_no-such-agent": "您的班组中没有这位坐席",
    "err_invalid-query": "查询条件有误", "err_database-unavailable": "数据库暂不可用，请重试",
    "err_forbidden": "您没有权限查看", err_network: "无法连接服务器",
  },
  en: {
    title_reports: "Reports", title_scorecard: "Agent scorecard", skip: "Skip to the main content",
    other_lang: "中文", logout: "Log out", login: "Log in", username: "Username", password: "Password",
    bad_login: "Wrong username or password", too_many: "Too many attempts, try again later",
    not_staff: "Reports are for team leaders, supervisors and admins; agents see their scorecard.",
    not_allowed_card: "Your role has no scorecard.",
    main_nav: "Pages", nav_reports: "Reports", nav_scorecard: "Scorecard", nav_wallboard: "Wallboard",
    nav_work: "Work items", nav_agent: "Agent console",
    role_agent: "agent", role_team_leader: "team leader", role_supervisor: "supervisor", role_admin: "admin",
    role_planner: "planner", role_qa_evaluator: "QA",
    loading: "Loading…", none: "—", failed: "Failed", server_says: "server: ", all: "All",
    sections: "Report sections", tab_report: "Report", tab_episodes: "Routing episodes",
    what: "What to show", report: "Report", custom: "Custom (choose figures)", custom_report: "Custom report", figures: "Figures",
    figures_hint: "Choose the figures to show (several)", dimension: "Breakdown", interval: "Interval",
    dim_none: "None", dim_queue: "Queue", dim_team: "Team", dim_agent: "Agent",
    dim_category: "Wrap-up category", dim_disposition: "Disposition", dim_hour: "Hour of day",
    dim_weekday: "Weekday",
    int_total: "Whole period", int_15min: "15 minutes", int_hour: "Hour", int_day: "Day",
    int_week: "Week", int_month: "Month", int_quarter: "Quarter", int_year: "Year",
    period: "Period", start: "From", end: "To", quick: "Quick periods",
    q_this_month: "This month", q_yesterday: "Yesterday", q_7d: "Last 7 days",
    q_last_month: "Last month", q_this_year: "This year",
    filters: "Filters (optional)", queue: "Queue", team: "Team", agent: "Agent",
    all_queues: "All queues", all_teams: "All teams", all_agents: "All agents",
    compare: "Compare with the previous period", run: "Run report",
    pick_figure: "Choose at least one figure for a custom report.",
    bad_range: "The end date is before the start date.",
    running: "Running…", shown: "Showing {r}, {p}.", range: "{s} to {e}",
    export: "Export", export_csv: "Export CSV", export_xlsx: "Export Excel (XLSX)",
    chart: "Chart", chart_figure: "Figure charted", chart_by: "{f} by {d}", chart_over: "{f} by {i}",
    chart_cap: "The chart shows the {n} largest of {m}; the table has them all.",
    chart_alt: "Chart: {t}. The data is in the table below.",
    table: "Table", col_period: "Period", col_scope: "Scope", totals: "Total",
    previous: "Previous period", change: "Change",
    target_min: "target ≥ {v}", target_max: "target ≤ {v}",
    below: "below target", above: "above the target's limit",
    legend_marks: "▼ below target, ▲ above the target's limit: values off target also have a red background.",
    no_rows: "No data in this period.", pt: "pt",
    p_week: "week of {d}", p_month: "{mn} {y}", p_quarter: "Q{q} {y}", p_year: "{y}",
    d_hm: "{h} h {m} min",
    ep_title: "Routing episodes (queue surges)", ep_search: "Search", ep_queue: "Queue",
    ep_started: "Started", ep_ended: "Ended", ep_duration: "Duration",
    ep_peak_waiting: "Peak callers waiting", ep_peak_wait: "Peak longest wait",
    ep_calls: "Calls affected", ep_levels: "Levels", ep_summary: "Summary", ep_open: "ongoing",
    ep_none: "No routing episode in this period.", ep_count: "{n} routing episode(s)",
    ep_caption: "Routing episodes, newest first", ep_pbx: "PBX", ep_show: "Show summary",
    level_normal: "normal", level_warning: "warning", level_surge: "surge", level_recovery: "recovery",
    sum_started_at: "Started", sum_ended_at: "Ended", sum_duration_seconds: "Duration",
    sum_levels: "Levels", sum_peak_callers_waiting: "Peak callers waiting",
    sum_peak_longest_wait: "Peak longest wait", sum_calls_affected: "Calls affected",
    sc_agent: "Agent", sc_self: "myself", sc_year: "Year", sc_show: "Show",
    sc_heading: "{n} · {y}", sc_month: "Month", sc_team: "team",
    sc_caption: "{n} by month (the team's value in grey under each)",
    sc_team_note: "The team's values: ratios are the whole team's, counts and times its totals.",
    sc_no_team: "This agent is in no team: there are no team values.",
    sc_no_data: "No data this year.", sc_chart: "Satisfaction and service figures by month",
    sc_chart_alt: "Line chart: {n}'s satisfaction and service figures by month. The data is in the table above.",
    sc_team_of: "{f} (team)", m_short: "{mn}",
    ap_section: "Monthly appraisal", ap_month: "Month", ap_print: "Print the appraisal",
    ap_title: "Monthly agent appraisal", ap_agent: "Agent", ap_period: "Month", ap_printed: "Printed on",
    ap_figure: "Figure", ap_value: "Agent", ap_target: "Target", ap_team: "Team", ap_result: "Result",
    ap_met: "✓ met", ap_not_met: "✗ not met", ap_no_target: "no target", ap_no_value: "no data",
    ap_comments: "Comments", ap_sign_agent: "Agent's signature", ap_sign_leader: "Team leader's signature",
    ap_date: "Date", ap_none: "Choose a month with data first.",
    ap_preview: "Below: the appraisal as it prints (printing prints the appraisal alone).",
    "err_report-too-fine": "That interval is finer than the figures are kept: choose a longer interval or a shorter period",
    "err_not-your-scorecard": "Agents see their own scorecard only",
    "err_no-such-agent": "No such agent in your teams", "err_invalid-query": "The query is not valid",
    "err_database-unavailable": "The database is unavailable, try again", "err_forbidden": "Not allowed",
    err_network: "Cannot reach the server",
  },
});

/**
 * A figure's name for a column's head: a line may break before its bracket ("服务水平" /
 * "(按接通)"), and nowhere else in Chinese (the heads keep their words whole).
 */
export function headLabel(text) {
  const at = text.search(/[(（]/);
  if (at <= 0) return [text];
  return [text.slice(0, at), document.createElement("wbr"), text.slice(at)];
}

const MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

/** `t(key)` with `{name}` placeholders filled in. */
export const fill = (key, values) =>
  Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), t(key));

/** A code's text (`dim_queue`), or the code itself when there is none. */
export function code(prefix, value) {
  const key = `${prefix}${value}`;
  const text = t(key);
  return text === key ? value : text;
}

/** An item's label in the current language (label_zh / label_en), else `fallback`. */
export function label2(item, fallback) {
  const zh = item.label_zh, en = item.label_en;
  return (getLang() === "en" ? en || zh : zh || en) || fallback;
}

const locale = () => (getLang() === "zh" ? "zh-CN" : "en-GB");
const pad = (n) => String(n).padStart(2, "0");

/** Seconds as "1:05" under an hour, "2 h 03 min" from an hour on. */
export function duration(seconds) {
  const sign = seconds < 0 ? "−" : "";
  const s = Math.round(Math.abs(seconds));
  if (s < 3600) return `${sign}${Math.floor(s / 60)}:${pad(s % 60)}`;
  return sign + fill("d_hm", { h: Math.floor(s / 3600), m: pad(Math.floor((s % 3600) / 60)) });
}

export function count(value) {
  return value.toLocaleString(locale(), { maximumFractionDigits: Number.isInteger(value) ? 0 : 2 });
}

export const percent = (ratio) => `${(ratio * 100).toFixed(1)} %`;

/** A figure's value as people read it, by its unit; null is "—". */
export function formatValue(unit, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return t("none");
  if (unit === "ratio") return percent(value);
  if (unit === "seconds") return duration(value);
  return count(value);
}

/** The change from `before` to `now`: "+3" (+50.0 %), "−1.5 pt", "+0:12"; "—" when unknown. */
export function formatChange(unit, now, before) {
  if (now === null || now === undefined || before === null || before === undefined) return t("none");
  const diff = now - before;
  const sign = diff > 0 ? "+" : diff < 0 ? "−" : "±";
  if (unit === "ratio") return `${sign}${Math.abs(diff * 100).toFixed(1)} ${t("pt")}`;
  if (unit === "seconds") return `${diff > 0 ? "+" : diff === 0 ? "±" : ""}${duration(diff)}`;
  const text = `${sign}${count(Math.abs(diff))}`;
  return before ? `${text} (${sign}${Math.abs((diff / before) * 100).toFixed(1)} %)` : text;
}

/** The target of a figure in words ("目标 ≥ 80.0 %"), or "" when it has none. */
export function targetText(figure) {
  if (figure.target === null || figure.target === undefined) return "";
  const key = figure.target_side === "max" ? "target_max" : "target_min";
  return fill(key, { v: formatValue(figure.unit, figure.target) });
}

/** A period's start (the API's text) as people read it, by the interval. */
export function formatPeriod(interval, period) {
  if (!period) return "";
  const [y, m, d] = period.slice(0, 10).split("-").map(Number);
  if (interval === "month") return fill("p_month", { y, m, mn: MONTHS_EN[m - 1] });
  if (interval === "quarter") return fill("p_quarter", { y, q: Math.floor((m - 1) / 3) + 1 });
  if (interval === "year") return fill("p_year", { y });
  if (interval === "week") return fill("p_week", { d: period.slice(0, 10) });
  if (interval === "day") {
    const weekday = new Date(y, m - 1, d).toLocaleDateString(locale(), { weekday: "short" });
    return `${period} ${weekday}`;
  }
  return period;
}

/** A month ("2026-03-01") short, for a chart's axis: "3 月" / "March". */
export const monthShort = (period) => {
  const m = Number(period.slice(5, 7));
  return fill("m_short", { m, mn: MONTHS_EN[m - 1].slice(0, 3) });
};

/** A date and time (ISO, UTC) in the browser's time, to the minute. */
export function when(iso) {
  if (!iso) return t("none");
  return new Date(iso).toLocaleString(locale(), {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

/** The time of day of an ISO instant, in the browser's time: "09:05". */
export function clock(iso) {
  return new Date(iso).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", hour12: false });
}

// --- local calendar days, as the API's dates (YYYY-MM-DD) -------------------------------------

export const isoDay = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
export function addDays(d, n) {
  const copy = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  copy.setDate(copy.getDate() + n);
  return copy;
}

/** The texts of a failed API call: the page's words for its code, then the server's. */
export function problemText(e) {
  if (!e || e.status === undefined) return String(e);
  const key = `err_${e.error}`;
  const text = t(key);
  return `${text === key ? t("failed") : text} (${e.status}) ${t("server_says")}${e.message}`;
}

// --- the charts' look (Chart.js, vendored: window.Chart) --------------------------------------

// Dark enough on white to tell apart (each ≥ 4.5:1), and each line its own point shape: a
// line is never told by its colour alone.
export const PALETTE = ["#1f3a5f", "#b45309", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#854d0e", "#4b5563"];
export const SHAPES = ["circle", "rect", "triangle", "rectRot", "star", "crossRot", "rectRounded", "cross"];

export function chartDefaults() {
  const Chart = window.Chart;
  if (!Chart) return null;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 13;
  Chart.defaults.color = "#1d2330";
  Chart.defaults.borderColor = "#e3e6eb";
  Chart.defaults.animation = false;
  return Chart;
}

/** The y axis and tooltips of a chart of figures of one unit (ratios drawn as %). */
export function unitScale(unit) {
  const scale = unit === "ratio" ? 100 : 1;
  const tick = (v) => (unit === "ratio" ? `${v} %` : unit === "seconds" ? duration(v) : count(v));
  const y = { beginAtZero: true, ticks: { callback: tick } };
  if (unit === "ratio") y.suggestedMax = 100;
  if (unit === "count") y.ticks.precision = 0;
  return {
    scale,
    y,
    tooltip: (ctx) => `${ctx.dataset.label}: ${formatValue(unit, ctx.raw === null ? null : ctx.raw / scale)}`,
  };
}

/** Translates the aria-labels under `root` named by data-i18n-label (applyI18n does the rest). */
export function applyLabels(root = document) {
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
}
