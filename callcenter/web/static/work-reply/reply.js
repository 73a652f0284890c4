// The reply page of a department outside the tool (docs/work-items.md, "Other departments").
// No login: the token in the address is the credential. Shows the item as the department
// may see it (GET /api/work/reply/{token}) and sends its answer (POST, {name, text}); the
// link serves several replies until it expires.
import {
  $, el, api, t, registerTexts, applyI18n, bindLangButton, onLangChange, getLang,
} from "/static/common/common.js";

registerTexts({
  zh: {
    title: "工单回复", other_lang: "English", loading: "正在读取…", ticket: "工单号",
    kind: "类型", category: "类别", priority: "优先级", status: "状态", deadline: "期限",
    phone: "客户号码", expires: "链接有效期至", message: "留言", timeline: "工单记录",
    no_notes: "暂无记录", your_reply: "您的回复", name: "您的姓名", text: "回复内容",
    send: "提交回复", sending: "正在提交…", again: "链接在有效期内可多次使用。",
    sent: "已提交，谢谢。如需补充，可再次回复。", unknown: "此回复链接无效。",
    expired: "此回复链接已过期，请联系转交工单的同事。", failed: "出错了：",
    too_many: "回复过于频繁，请稍后再试。", network: "无法连接服务器，请稍后再试。",
    paused: "（等待中，计时暂停）", none: "—",
    "k_follow-up": "跟进", k_callback: "回电", k_complaint: "投诉", k_inquiry: "咨询",
    p_urgent: "紧急", p_high: "高", p_normal: "普通", p_low: "低",
    s_open: "待处理", "s_in-progress": "处理中", "s_waiting-customer": "等待客户",
    "s_waiting-department": "等待其他部门", s_resolved: "已解决", s_closed: "已关闭",
    e_created: "创建", e_note: "备注", e_status: "状态", e_owner: "负责人", e_department: "转交部门",
    e_reply: "部门回复", e_escalated: "升级", e_callback: "回电",
  },
  en: {
    title: "Reply to a work item", other_lang: "中文", loading: "Loading…", ticket: "Ticket",
    kind: "Kind", category: "Category", priority: "Priority", status: "Status",
    deadline: "Deadline", phone: "Customer number", expires: "Link valid until",
    message: "Message", timeline: "Timeline", no_notes: "Nothing yet", your_reply: "Your reply",
    name: "Your name", text: "Reply", send: "Send reply", sending: "Sending…",
    again: "The link may be used for several replies until it expires.",
    sent: "Sent, thank you. You may reply again to add to it.",
    unknown: "This reply link is not valid.",
    expired: "This reply link has expired: ask the colleague who sent the item.",
    failed: "Something went wrong: ", too_many: "Too many replies; try again later.",
    network: "The server cannot be reached; try again later.",
    paused: "(waiting: the clock is stopped)", none: "—",
    "k_follow-up": "Follow-up", k_callback: "Callback", k_complaint: "Complaint",
    k_inquiry: "Inquiry", p_urgent: "Urgent", p_high: "High", p_normal: "Normal", p_low: "Low",
    s_open: "Open", "s_in-progress": "In progress", "s_waiting-customer": "Waiting on customer",
    "s_waiting-department": "Waiting on a department", s_resolved: "Resolved", s_closed: "Closed",
    e_created: "Created", e_note: "Note", e_status: "Status", e_owner: "Owner",
    e_department: "Sent to department", e_reply: "Department reply", e_escalated: "Escalated",
    e_callback: "Callback",
  },
});

const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const path = "/api/work/reply/" + encodeURIComponent(token);
let view = null;
let resultKey = null;

function when(iso) {
  if (!iso) return t("none");
  const locale = getLang() === "zh" ? "zh-CN" : "en-GB";
  return new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

function label(prefix, code) {
  const key = prefix + code;
  const text = t(key);
  return text === key ? code : text;
}

let shownState = [null, ""];

function showState(key, extra = "") {
  shownState = [key, extra];
  const node = $("#state");
  node.hidden = !key;
  node.className = key === "loading" ? "" : "error";
  node.textContent = key ? t(key) + extra : "";
}

function problemKey(error) {
  if (error.status === 404) return "unknown";
  if (error.status === 410) return "expired";
  if (error.status === 429) return "too_many";
  if (error.status === 0) return "network";
  return null;
}

function render() {
  if (!view) return;
  const { item, department } = view;
  const zh = getLang() === "zh";
  $("#department").textContent = zh ? department.label_zh : department.label_en;
  $("#ticket").textContent = item.ticket;
  $("#title").textContent = item.title;
  $("#kind").textContent = label("k_", item.kind);
  $("#category").textContent = zh ? item.category_zh : item.category_en;
  $("#priority").textContent = label("p_", item.priority);
  $("#status").textContent = label("s_", item.status);
  $("#deadline").textContent = item.due_at ? when(item.due_at) : t("paused");
  $("#phone").textContent = item.phone || t("none");
  $("#expires").textContent = when(view.expires_at);
  $("#message").textContent = view.message || t("none");
  const list = $("#notes");
  list.replaceChildren(...view.notes.map((note) => el(
    "li", null,
    el("div", { class: "meta" }, `${when(note.at)} · ${note.actor} · ${label("e_", note.kind)}`),
    el("p", { class: "text" }, note.text),
  )));
  $("#no-notes").hidden = view.notes.length > 0;
  $("#item-view").hidden = false;
  const result = $("#result");
  result.textContent = resultKey ? t(resultKey) : "";
}

async function load() {
  showState("loading");
  try {
    view = await api("GET", path);
  } catch (error) {
    const key = problemKey(error);
    showState(key || "failed", key ? "" : error.message);
    return;
  }
  showState(null);
  render();
}

async function send(event) {
  event.preventDefault();
  const button = $("#send");
  const result = $("#result");
  button.disabled = true;
  resultKey = null;
  result.className = "";
  result.textContent = t("sending");
  const name = $("#name").value.trim();
  try {
    view = await api("POST", path, { name, text: $("#text").value });
    try { localStorage.setItem("cc.reply.name", name); } catch (_) { /* not kept */ }
    $("#text").value = "";
    resultKey = "sent";
    result.className = "ok";
    render();
  } catch (error) {
    const key = problemKey(error);
    result.className = "error";
    result.textContent = key ? t(key) : t("failed") + error.message;
    if (key === "unknown" || key === "expired") $("#reply-form").hidden = true;
  } finally {
    button.disabled = false;
  }
}

applyI18n();
bindLangButton($("#lang"));
onLangChange(() => { showState(...shownState); render(); });
try { $("#name").value = localStorage.getItem("cc.reply.name") || ""; } catch (_) { /* none */ }
$("#reply-form").addEventListener("submit", send);
load();
