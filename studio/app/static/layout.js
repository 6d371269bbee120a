// Navigation and layout (static/layout.css): the outline of a long article (its headings; a click
// scrolls there) and, on a phone, the tools column behind a menu button. Both live outside the
// article component, so its re-renders never touch them, but inside `.gradio-container .contain`,
// the scope Gradio gives the app's stylesheet.
(() => {
  const host = document.querySelector('.gradio-container .contain') || document.body;
  const MIN_HEADINGS = 2;  // fewer: the article is short enough to read without one
  let nav = document.getElementById('studio-outline');
  if (!nav) {
    nav = document.createElement('nav');
    nav.id = 'studio-outline';
    nav.setAttribute('aria-label', 'Outline');
    nav.hidden = true;
    host.appendChild(nav);
  }
  const headings = () => [...element.querySelectorAll('.studio-article h1, .studio-article h2, .studio-article h3')]
    .filter(h => !h.closest('[data-form],.rewrite-diff,.card,.suggestion'));
  let shown = null;
  const rebuild = () => {
    const hs = headings();
    const key = hs.map(h => h.tagName + h.textContent).join('\n');
    if (key === shown) return;
    shown = key;
    nav.hidden = hs.length < MIN_HEADINGS;
    const title = document.createElement('button');
    title.type = 'button';
    title.className = 'outline-title';
    title.textContent = 'Outline';
    nav.replaceChildren(title, ...hs.map((h, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'outline-' + h.tagName.toLowerCase();
      b.dataset.heading = String(i);
      b.textContent = h.textContent;
      return b;
    }));
  };
  nav.addEventListener('click', (e) => {
    if (e.target.closest('.outline-title')) { nav.classList.toggle('open'); return; }
    const b = e.target.closest('button[data-heading]');
    const h = b && headings()[Number(b.dataset.heading)];
    if (h) h.scrollIntoView({behavior: 'smooth', block: 'start'});
    nav.classList.remove('open');
  });
  let queued = false;  // one rebuild per frame, however many streamed updates arrive
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; rebuild(); });
  }).observe(element, {childList: true, subtree: true, characterData: true});
  rebuild();
  if (document.getElementById('tools-menu')) return;
  const menu = document.createElement('button');
  menu.id = 'tools-menu';
  menu.type = 'button';
  menu.textContent = '☰ Tools';
  menu.setAttribute('aria-expanded', 'false');
  menu.setAttribute('aria-controls', 'studio-tools');
  menu.addEventListener('click', () => {
    const row = document.getElementById('studio-body') || document.body;
    const open = row.classList.toggle('tools-open');
    menu.setAttribute('aria-expanded', String(open));
    menu.textContent = open ? '✕ Close tools' : '☰ Tools';
  });
  host.appendChild(menu);
})();
