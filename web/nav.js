// Pages of the one-page dashboard: the address's #hash names the page ("#review", "#settings"; none is
// the home page). Page sections carry data-page; the stylesheet shows only the current page's, so the
// pages' own scripts keep using `hidden` for what the visitor may see. Pages listen for "camhub:page".

const PAGES = new Set(["home", "review", "settings", "requests", "overrides", "audit", "accounts", "storage"]);

function current() {
  const name = location.hash.replace(/^#/, "");
  return PAGES.has(name) ? name : "home";
}

function show() {
  const page = current();
  document.body.dataset.page = page;
  for (const link of document.querySelectorAll("nav a[data-to]")) {
    if (link.dataset.to === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.dispatchEvent(new CustomEvent("camhub:page", { detail: page }));
}

window.addEventListener("hashchange", show);
show();

export const currentPage = current;
