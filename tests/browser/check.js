// The browser test's checker (tests/browser.rs). Injected as the first script of a copy of the report's
// index.html; after the page has loaded and its fonts are ready it measures the rendered page and writes
// the result as JSON into <script type="application/json" id="eoc-browser-check">, which the test reads
// from Chromium's --dump-dom. Each failure names its check, the element, its width and a text snippet.
//
// Checks (issue 15, item 8):
//   console  no console.error, uncaught exception, unhandled rejection or failed resource load;
//   math     every <math> has a non-zero box and is laid out as MathML (display: math / block math);
//   raw-tex  no visible TeX outside code: `$`, control words such as `\frac`, literal entities such as
//            `&nbsp;`, and no `.math-error` fallback (the LaTeX that failed to convert);
//   figure   every figure, and every image / outermost <svg>, has a non-zero box inside the page width;
//            no text of an <svg> is cut off by the <svg>'s edge;
//   overflow nothing reaches past the viewport except inside a scroll box (overflow-x auto/scroll that
//            really scrolls); the page itself does not scroll sideways;
//   clipped  no text is cut off by an ancestor that clips without scrolling (overflow hidden/clip, or a
//            scroll box that cannot scroll, e.g. overflow-y: hidden on display math);
//   link     every in-page link (href="#id") names an element that exists, once, and is rendered;
//            relative links to files are returned (`files`) for the test to check on disk, and so are
//            the local resources CSS names (`resources`, a console error if missing).
(function () {
  'use strict';
  var RESULT_ID = 'eoc-browser-check';
  var errors = [];
  var text = function (args) {
    return Array.prototype.map
      .call(args, function (a) {
        if (a instanceof Error) return a.name + ': ' + a.message;
        if (typeof a === 'object') {
          try { return JSON.stringify(a); } catch (e) { return String(a); }
        }
        return String(a);
      })
      .join(' ');
  };
  var origError = console.error;
  console.error = function () {
    errors.push({ check: 'console', element: 'console.error', width: 0, snippet: text(arguments) });
    return origError.apply(console, arguments);
  };
  var origAssert = console.assert;
  console.assert = function (cond) {
    if (!cond) {
      var rest = Array.prototype.slice.call(arguments, 1);
      errors.push({ check: 'console', element: 'console.assert', width: 0, snippet: text(rest) });
    }
    return origAssert.apply(console, arguments);
  };
  // Capture phase: also sees resource errors (<img>, <link>, ...), which do not bubble.
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.nodeType === 1) {
      var url = t.currentSrc || t.src || t.href || (t.getAttribute && (t.getAttribute('src') || t.getAttribute('href'))) || '';
      errors.push({ check: 'console', element: '<' + t.tagName.toLowerCase() + '>', width: 0,
        snippet: 'failed to load ' + url });
    } else {
      errors.push({ check: 'console', element: 'uncaught exception', width: 0,
        snippet: String(e.message) + ' (' + e.filename + ':' + e.lineno + ')' });
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    errors.push({ check: 'console', element: 'unhandled rejection', width: 0, snippet: text([e.reason]) });
  });
  document.addEventListener('securitypolicyviolation', function (e) {
    errors.push({ check: 'console', element: 'security policy', width: 0,
      snippet: e.violatedDirective + ' blocked ' + e.blockedURI });
  });

  // MathML token elements: their boxes are the formula's ink.
  var TOKENS = 'math mi, math mn, math mo, math mtext, math ms, math mspace';
  var round = function (x) { return Math.round(x * 10) / 10; };
  var squash = function (s, n) {
    s = String(s || '').replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  };
  var headings = [];
  // Where an element is: its tag, id and classes, and the heading it comes under.
  var describe = function (el) {
    var tag = el.tagName.toLowerCase();
    var d = '<' + tag + (el.id ? ' id="' + el.id + '"' : '');
    var cls = el.getAttribute('class');
    if (cls) d += ' class="' + cls + '"';
    if (tag === 'math' && el.getAttribute('display')) d += ' display="' + el.getAttribute('display') + '"';
    d += '>';
    var under = null;
    for (var i = 0; i < headings.length; i++) {
      var h = headings[i];
      if (h === el || h.contains(el)) { under = null; break; }
      if (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) under = h; else break;
    }
    if (under) d += ' under "' + squash(shown(under), 60) + '"';
    return d;
  };
  // An element's text as the reader sees it: without the TeX source kept in <annotation>.
  var shown = function (el) {
    if (!el.querySelector('annotation, annotation-xml')) return el.textContent;
    var copy = el.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll('annotation, annotation-xml'), function (a) { a.remove(); });
    return copy.textContent;
  };
  var snippet = function (el) {
    // The TeX source of a formula says more than its rendered characters.
    if (el.tagName.toLowerCase() === 'math') {
      var ann = el.querySelector('annotation[encoding="application/x-tex"]');
      if (ann) return squash(ann.textContent, 100);
    }
    return squash(shown(el), 100);
  };
  var style = function (el) { return getComputedStyle(el); };
  var rendered = function (el) { return el.getClientRects().length > 0 && style(el).visibility !== 'hidden'; };
  var clipsX = function (s) { return s.overflowX !== 'visible'; };
  var clipsY = function (s) { return s.overflowY !== 'visible'; };
  // A scroll box along x: overflow-x auto/scroll, and scrolling really moves it when its content is wider.
  var scrollsX = function (el) {
    var s = style(el);
    if (s.overflowX !== 'auto' && s.overflowX !== 'scroll') return false;
    if (el.scrollWidth <= el.clientWidth) return true;
    var before = el.scrollLeft;
    el.scrollLeft = before + 1;
    var moved = el.scrollLeft !== before;
    el.scrollLeft = before;
    return moved;
  };
  var scrollsY = function (el) {
    var s = style(el);
    if (s.overflowY !== 'auto' && s.overflowY !== 'scroll') return false;
    if (el.scrollHeight <= el.clientHeight) return true;
    var before = el.scrollTop;
    el.scrollTop = before + 1;
    var moved = el.scrollTop !== before;
    el.scrollTop = before;
    return moved;
  };
  // The nearest ancestor (not el itself) that clips along x, or null.
  var clipAncestorX = function (el) {
    for (var a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      if (a === document.body) return null;
      if (clipsX(style(a))) return a;
    }
    return null;
  };
  // The rectangle of an element's content the reader can see without scrolling it: its padding box.
  var paddingBox = function (el) {
    var r = el.getBoundingClientRect();
    var s = style(el);
    var bl = parseFloat(s.borderLeftWidth) || 0;
    var bt = parseFloat(s.borderTopWidth) || 0;
    return { left: r.left + bl, top: r.top + bt, right: r.left + bl + el.clientWidth, bottom: r.top + bt + el.clientHeight };
  };

  var run = function () {
    try {
      check();
    } catch (e) {
      var out = document.createElement('script');
      out.type = 'application/json';
      out.id = RESULT_ID;
      out.textContent = JSON.stringify({ checker_error: String(e && e.stack || e) }).replace(/</g, '\\u003c');
      document.body.appendChild(out);
    }
  };

  var check = function () {
    var failures = errors.slice();
    var fail = function (check, el, width, extra) {
      failures.push({ check: check, element: el ? describe(el) : '', width: round(width || 0), snippet: extra });
    };
    // What a reader can open, the test opens: closed <details> would hide their content.
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
    headings = Array.prototype.slice.call(document.querySelectorAll('h1,h2,h3,h4,h5,h6'));
    window.scrollTo(0, 0);
    var de = document.documentElement;
    var vw = de.clientWidth;
    var tol = 0.5;

    // math
    var maths = document.querySelectorAll('math');
    Array.prototype.forEach.call(maths, function (m) {
      var r = m.getBoundingClientRect();
      if (!(r.width > 0 && r.height > 0)) {
        fail('math', m, r.width, 'empty box (' + round(r.width) + ' x ' + round(r.height) + ' px): ' + snippet(m));
        return;
      }
      var disp = style(m).display;
      if (!/\bmath\b/.test(disp)) fail('math', m, r.width, 'not laid out as MathML (display: ' + disp + '): ' + snippet(m));
      // A display formula shows all of itself: one that needs sideways scrolling at this width is cut
      // off for the reader (issue 15 item 2: "display math never clips"), even inside a scroll box.
      if (m.getAttribute('display') === 'block') {
        var right = r.left, left = r.right;
        Array.prototype.forEach.call(m.querySelectorAll(TOKENS), function (t) {
          var tr = t.getBoundingClientRect();
          if (tr.width === 0 && tr.height === 0) return;
          right = Math.max(right, tr.right);
          left = Math.min(left, tr.left);
        });
        var box = paddingBox(m);
        var hidden = Math.max(right - box.right, box.left - left);
        if (hidden > 1) {
          fail('math', m, r.width, 'display formula cut off: ' + round(right - left) + ' px of formula in a ' + round(box.right - box.left) +
            ' px box, ' + round(hidden) + ' px hidden (overflow-x ' + style(m).overflowX + '): ' + snippet(m));
        }
      }
    });

    // raw-tex: visible text outside code; math-error fallbacks
    Array.prototype.forEach.call(document.querySelectorAll('.math-error'), function (el) {
      if (rendered(el)) fail('raw-tex', el, el.getBoundingClientRect().width, 'LaTeX that did not convert: ' + snippet(el));
    });
    var skip = /^(script|style|code|pre|kbd|samp|annotation|annotation-xml|noscript|template|title)$/;
    var rawPattern = /\$|\\[A-Za-z]+|\\[,;:! ]|&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);/;
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        for (var p = n.parentElement; p; p = p.parentElement) {
          if (skip.test(p.tagName.toLowerCase()) || p.id === RESULT_ID) return NodeFilter.FILTER_REJECT;
        }
        return NodeFilter.FILTER_ACCEPT;
      }
    });
    // One failure per element (a formula counts as one), at most 50.
    var rawHosts = [];
    var rawMore = 0;
    for (var n = walker.nextNode(); n; n = walker.nextNode()) {
      var m = rawPattern.exec(n.data);
      if (!m || !rendered(n.parentElement)) continue;
      var host = n.parentElement.closest('math') || n.parentElement;
      var seen = rawHosts.filter(function (h) { return h.el === host; })[0];
      if (seen) { seen.n++; continue; }
      if (rawHosts.length >= 50) { rawMore++; continue; }
      var at = Math.max(0, m.index - 40);
      rawHosts.push({ el: host, n: 1, first: '"' + m[0] + '" in "' + squash(n.data.slice(at, m.index + 60), 110) + '"' });
    }
    rawHosts.forEach(function (h) {
      var ctx = h.el.tagName.toLowerCase() === 'math' ? ' in the formula ' + snippet(h.el) : '';
      var times = h.n > 1 ? ' (and ' + (h.n - 1) + ' more time(s) in this element)' : '';
      fail('raw-tex', h.el, h.el.getBoundingClientRect().width, h.first + times + ctx);
    });
    if (rawMore > 0) fail('raw-tex', null, 0, rawMore + ' more elements with raw TeX');

    // figure: figures, images, outermost svgs
    var figs = Array.prototype.slice.call(document.querySelectorAll('figure, img, svg'))
      .filter(function (el) { return !(el.tagName.toLowerCase() === 'svg' && el.parentElement.closest('svg')); });
    figs.forEach(function (el) {
      var r = el.getBoundingClientRect();
      var tag = el.tagName.toLowerCase();
      var what = tag === 'figure' ? squash(shown(el.querySelector('figcaption') || el), 80) : snippet(el) || tag;
      if (!(r.width > 0 && r.height > 0)) {
        fail('figure', el, r.width, 'empty box (' + round(r.width) + ' x ' + round(r.height) + ' px): ' + what);
        return;
      }
      if (r.left < -tol || r.right > vw + tol) {
        fail('figure', el, r.width, 'outside the page width (left ' + round(r.left) + ', right ' + round(r.right) +
          ', viewport ' + vw + ' px): ' + what);
      }
      if (tag === 'figure' && !el.querySelector('svg, img, canvas, picture, object')) fail('figure', el, r.width, 'no image: ' + what);
      if (tag === 'img' && !(el.complete && el.naturalWidth > 0)) fail('figure', el, r.width, 'image did not load: ' + el.getAttribute('src'));
      if (tag === 'svg') {
        var texts = el.querySelectorAll('text');
        Array.prototype.forEach.call(texts, function (t) {
          if (!rendered(t)) return;
          var tr = t.getBoundingClientRect();
          if (tr.width === 0) return;
          var over = Math.max(r.left - tr.left, tr.right - r.right, r.top - tr.top, tr.bottom - r.bottom);
          if (over > 1) {
            fail('figure', el, r.width, 'text "' + squash(t.textContent, 40) + '" cut off by ' + round(over) +
              ' px at the figure\'s edge');
          }
        });
      }
    });

    // overflow: elements past the viewport without a scroll box around them
    if (de.scrollWidth > vw) fail('overflow', de, de.scrollWidth, 'the page scrolls sideways: ' + de.scrollWidth + ' px wide in a ' + vw + ' px viewport');
    var all = document.body.querySelectorAll('*');
    var reported = [];
    Array.prototype.forEach.call(all, function (el) {
      if (el.id === RESULT_ID || el.closest('svg') && el.tagName.toLowerCase() !== 'svg') return;
      var r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      if (!(r.right > vw + tol || r.left < -tol)) return;
      for (var i = 0; i < reported.length; i++) if (reported[i].contains(el)) return;
      // The nearest ancestor that clips: a working scroll box is fine; one that clips without scrolling
      // is the 'clipped' check's business (below).
      var a = clipAncestorX(el);
      if (a) return;
      reported.push(el);
      fail('overflow', el, r.width, round(r.width) + ' px wide, from ' + round(r.left) + ' to ' + round(r.right) +
        ' px in a ' + vw + ' px viewport: ' + snippet(el));
    });

    // Not failures, but worth a reviewer's look: boxes the reader has to scroll sideways (allowed for
    // wide tables; display formulas are the math check's).
    var notes = [];
    Array.prototype.forEach.call(all, function (el) {
      if (el.tagName.toLowerCase() === 'math' || el.closest('svg')) return;
      var s = style(el);
      if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
        notes.push(describe(el) + ' scrolls sideways: ' + el.scrollWidth + ' px of content in a ' + el.clientWidth + ' px box: ' +
          squash(shown(el), 80));
      }
    });

    // figure-text: figure text as rendered (font size times the figure's scale) is at least 11 px.
    var small = {};
    Array.prototype.forEach.call(document.querySelectorAll('svg text'), function (t) {
      if (!rendered(t) || !t.textContent.trim()) return;
      var ctm = t.getScreenCTM();
      if (!ctm) return;
      var px = parseFloat(style(t).fontSize) * Math.sqrt(Math.abs(ctm.a * ctm.d - ctm.b * ctm.c));
      if (px < 11) {
        var fig = t.closest('figure') || t.closest('svg');
        var key = describe(fig);
        var k = small[key] || (small[key] = { el: fig, n: 0, min: Infinity, cap: squash(shown(fig.querySelector('figcaption') || fig), 60) });
        k.n++;
        k.min = Math.min(k.min, px);
      }
    });
    Object.keys(small).forEach(function (key) {
      var k = small[key];
      fail('figure-text', k.el, k.min, k.n + ' text label(s) under 11 px (smallest ' + round(k.min) + ' px): ' + k.cap);
    });

    // clipped: text cut off by an ancestor that clips without scrolling (a scroll box along x only
    // when its content is wider, so overflow-y: hidden still clips a tall formula). A piece of text is
    // a text node's rectangle outside math, and a token element's box inside math: MathML lays formulas
    // out by the glyphs' ink, so a token's text rectangle (the font's full ascent and descent) pokes
    // out of a formula that is not cut at all.
    var pieces = [];
    var range = document.createRange();
    var textWalker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        if (!n.data.trim()) return NodeFilter.FILTER_REJECT;
        var p = n.parentElement;
        if (!p || p.closest('#' + RESULT_ID + ', script, style, math, svg, title')) return NodeFilter.FILTER_REJECT;
        return NodeFilter.FILTER_ACCEPT;
      }
    });
    for (var t = textWalker.nextNode(); t; t = textWalker.nextNode()) {
      range.selectNodeContents(t);
      pieces.push({ host: t.parentElement, rect: range.getBoundingClientRect(), slackY: 2 });
    }
    Array.prototype.forEach.call(document.querySelectorAll(TOKENS), function (el) {
      if (el.closest('annotation-xml')) return;
      pieces.push({ host: el, rect: el.getBoundingClientRect(), slackY: 1 });
    });
    var cuts = [];
    pieces.forEach(function (piece) {
      var tr = piece.rect;
      if (tr.width === 0 && tr.height === 0) return;
      for (var a = piece.host.parentElement; a && a !== document.body && a !== de; a = a.parentElement) {
        var s = style(a);
        if (!clipsX(s) && !clipsY(s)) continue;
        var pb = paddingBox(a);
        var outX = Math.max(pb.left - tr.left, tr.right - pb.right);
        var outY = Math.max(pb.top - tr.top, tr.bottom - pb.bottom);
        var cutX = clipsX(s) && outX > 1 && !scrollsX(a);
        var cutY = clipsY(s) && outY > piece.slackY && !scrollsY(a);
        if (cutX || cutY) {
          var c = cuts.filter(function (c) { return c.box === a; })[0];
          if (!c) cuts.push(c = { box: a, x: 0, y: 0, n: 0, s: s });
          c.n++;
          if (cutX) c.x = Math.max(c.x, outX);
          if (cutY) c.y = Math.max(c.y, outY);
          return;
        }
      }
    });
    cuts.forEach(function (c) {
      var ar = c.box.getBoundingClientRect();
      var how = [];
      if (c.x > 0) how.push('up to ' + round(c.x) + ' px sideways');
      if (c.y > 0) how.push('up to ' + round(c.y) + ' px vertically');
      fail('clipped', c.box, ar.width, 'cuts off ' + c.n + ' piece(s) of text, ' + how.join(' and ') + ' (overflow-x ' +
        c.s.overflowX + ', overflow-y ' + c.s.overflowY + ', box ' + round(ar.width) + ' x ' + round(ar.height) + ' px): ' +
        snippet(c.box));
    });

    // link
    var files = [];
    var ids = {};
    Array.prototype.forEach.call(document.querySelectorAll('[id]'), function (el) { ids[el.id] = (ids[el.id] || 0) + 1; });
    Array.prototype.forEach.call(document.querySelectorAll('a[href], area[href]'), function (a) {
      var href = a.getAttribute('href');
      if (href.charAt(0) === '#') {
        var id;
        try { id = decodeURIComponent(href.slice(1)); } catch (e) { id = href.slice(1); }
        if (id === '' || id.toLowerCase() === 'top') return;
        var target = document.getElementById(id) || document.querySelector('a[name="' + CSS.escape(id) + '"]');
        var w = a.getBoundingClientRect().width;
        if (!target) fail('link', a, w, 'href="' + href + '" names no element: "' + squash(shown(a), 60) + '"');
        else if (ids[id] > 1) fail('link', a, w, 'href="' + href + '" names ' + ids[id] + ' elements (duplicate id)');
        else if (!rendered(target)) fail('link', a, w, 'href="' + href + '" names an element that is not rendered');
      } else if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(href) && href.slice(0, 2) !== '//') {
        files.push(href);
      }
    });
    // Resources named in CSS (url(...)) load no error event: local ones go to the test's file check,
    // and anything from elsewhere cannot load in a self-contained page.
    var resources = [];
    var css = Array.prototype.map.call(document.querySelectorAll('style'), function (st) { return st.textContent; })
      .concat(Array.prototype.map.call(document.querySelectorAll('[style]'), function (el) { return el.getAttribute('style'); }));
    css.forEach(function (text) {
      var re = /url\(\s*(['"]?)([^'")]*)\1\s*\)/g;
      for (var u = re.exec(text); u; u = re.exec(text)) {
        var url = u[2];
        if (/^data:/i.test(url) || url.charAt(0) === '#') continue;
        if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) || url.slice(0, 2) === '//') {
          fail('console', null, 0, 'CSS loads an external resource: ' + url);
        } else {
          resources.push(url);
        }
      }
    });

    var out = document.createElement('script');
    out.type = 'application/json';
    out.id = RESULT_ID;
    out.textContent = JSON.stringify({
      viewport_width: vw,
      page_height: Math.ceil(Math.max(de.scrollHeight, document.body.scrollHeight)),
      counts: { math: maths.length, figures: document.querySelectorAll('figure').length, links: document.querySelectorAll('a[href]').length },
      failures: failures,
      notes: notes,
      files: files,
      resources: resources
    }).replace(/</g, '\\u003c');
    document.body.appendChild(out);
  };

  // At the load event (layout is forced by the measurements); if web fonts are still loading, when they
  // are ready. No requestAnimationFrame: headless Chromium may dump the page before a frame is drawn.
  window.addEventListener('load', function () {
    if (!document.fonts || document.fonts.status === 'loaded') run();
    else document.fonts.ready.then(run);
  });
})();
