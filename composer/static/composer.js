/*
 * composer.js: the "new post" box of the userimages composer page.
 *
 * Self-contained on purpose: plain JavaScript with no library, no build step
 * and no request beyond the page's own server, so that it can be copied into
 * a help-center theme. To do so, keep the upload queue and its helpers,
 * replace loadConfig() with the theme's own values (the brand id, the
 * limits, and the formats and messages of config.json) and the element ids
 * with the theme's.
 *
 * Each picture is uploaded in the User Images API's three steps, exactly as
 * Zendesk's own help-center theme does it:
 *   1. POST /api/v2/guide/user_images/uploads
 *      {"content_type": TYPE, "file_size": file.size}
 *      -> {"upload": {"url", "headers", "token"}}
 *   2. PUT the file to upload.url with every header in upload.headers.
 *      XMLHttpRequest, not fetch: only it reports upload progress.
 *   3. POST /api/v2/guide/user_images {"token", "brand_id"}, brand_id a string
 *      -> {"user_image": {"path"}}
 * TYPE is sniffed from the file's first bytes, as the CLI does, with the
 * signatures config.json gives (the API's own), so a PNG named photo.jpg is
 * sent as image/png. A file of the wrong type or size is refused before any
 * request, with its type or size named.
 *
 * When a picture is picked, a placeholder "[Uploading NAME…]" goes into the
 * body at the cursor, and the claimed picture replaces it: pictures land in
 * the order they were picked, whichever finishes first. A picture goes in
 * as <img src="PATH" srcset="PATH?w=320&amp;auto=format 320w, …" sizes="…"
 * alt="">, its alt text written by the person in a field of its own.
 *
 * Each upload has one status line and its buttons: Cancel while it waits
 * or runs, Retry after a failure (from the step that failed), Remove after
 * it (which also takes the picture out of the body). At most MAX_RUNNING
 * uploads run at once; the others wait their turn.
 *
 * Like Zendesk's theme, it treats an answer with a non-empty "errors" key
 * as a failure whatever its status. A failure is worded with the plain
 * sentence config.json gives for its code: the CLI's wording, from the same
 * table (client/api in the server's source).
 */
(function () {
  'use strict';

  var CREATE_URL = '/api/v2/guide/user_images/uploads';
  var CLAIM_URL = '/api/v2/guide/user_images';
  // userimages' extension (Zendesk has no such route): a reader reports a
  // published picture to the moderators.
  var REPORT_URL = '/api/v2/guide/user_images/{id}/reports';
  // How many uploads run at once; the others wait in turn.
  var MAX_RUNNING = 3;
  function byId(id) {
    return document.getElementById(id);
  }

  var form = byId('composer');
  var title = byId('title');
  var body = byId('body');
  var brand = byId('brand');
  var input = byId('files');
  var drop = byId('drop');
  var limits = byId('limits');
  var uploads = byId('uploads');
  var statusRegion = byId('status');
  var previewTitle = byId('preview-title');
  var previewBody = byId('preview-body');

  // The service's settings, from config.json: max_file_size in bytes (0: no
  // check here), content_types (empty: every format), formats (the API's
  // image formats, their names and signatures) and messages (a plain
  // sentence per error code). The server checks again either way.
  var config = { brands: [], max_file_size: 0, content_types: [], formats: [], messages: {}, new_upload_codes: [],
    report_reasons: [], max_report_detail: 0, variant_widths: [] };

  /* ---------- Words ---------- */

  // announce says text in the live region, which screen readers read out
  // politely: only the latest news, the list holds each upload's status.
  // kind "error" styles it as a failure.
  function announce(text, kind) {
    var p = document.createElement('p');
    p.className = 'message' + (kind === 'error' ? ' message-error' : '');
    p.textContent = text;
    statusRegion.textContent = '';
    statusRegion.appendChild(p);
  }

  // "A", "A or B", "A, B or C".
  function orList(names) {
    if (names.length < 2) {
      return names.join('');
    }
    return names.slice(0, -1).join(', ') + ' or ' + names[names.length - 1];
  }

  // formatSize writes a byte count in decimal units, rounded down so that
  // "or smaller" stays true: 2000000 is "2 MB", 100000 is "100 KB". A file
  // just over a limit is rounded up instead, so as not to read the same.
  function formatSize(n, up) {
    var round = up ? Math.ceil : Math.floor;
    if (n >= 1e6) {
      return round(n / 1e5) / 10 + ' MB';
    }
    if (n >= 1e3) {
      return round(n / 1e2) / 10 + ' KB';
    }
    return n + ' bytes';
  }

  function capitalize(s) {
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  // The formats the server accepts: all of the API's unless content_types
  // names fewer.
  function acceptedFormats() {
    return config.formats.filter(function (f) {
      return !config.content_types.length || config.content_types.indexOf(f.mime) >= 0;
    });
  }

  function acceptedNames() {
    return orList(acceptedFormats().map(function (f) { return f.name; }));
  }

  // limitsText is the rule a file must follow, worded like Zendesk's:
  // "Images must be JPEG, PNG, GIF or WebP and 2 MB or smaller".
  function limitsText() {
    var parts = [];
    if (acceptedFormats().length) {
      parts.push(acceptedNames());
    }
    if (config.max_file_size > 0) {
      parts.push(formatSize(config.max_file_size) + ' or smaller');
    }
    return parts.length ? 'Images must be ' + parts.join(' and ') : '';
  }

  // serverSentence words an error the server answered with, from the plain
  // sentence of its code; a FileTooLarge names the two sizes.
  function serverSentence(err, name, size) {
    if (err.code === 'FileTooLarge' && err.limit > 0) {
      return name + ' is ' + formatSize(size, true) + '; the server accepts at most ' + formatSize(err.limit) + '.';
    }
    var plain = config.messages[err.code];
    if (plain) {
      return capitalize(plain).split('{file}').join(name) + '.';
    }
    return name + ' was refused (HTTP ' + err.status + ').'; // failed() adds the code
  }

  /* ---------- Looking at a file ---------- */

  // sniff reads the first bytes of file and answers the API format whose
  // signature they start with, or null.
  function sniff(file) {
    if (!config.formats.length) {
      // A theme that gives no formats: the browser's type is all there is.
      return Promise.resolve(file.type ? { mime: file.type, name: file.type, magics: [] } : null);
    }
    return file.slice(0, 32).arrayBuffer().then(function (buf) {
      var head = new Uint8Array(buf);
      var startsWith = function (bytes, at) {
        if (head.length < at + bytes.length) {
          return false;
        }
        return bytes.every(function (b, i) { return head[at + i] === b; });
      };
      return config.formats.filter(function (f) {
        return f.magics.some(function (m) { return startsWith(m, 0); }) &&
          (!f.tag || startsWith(f.tag, f.tag_offset || 0));
      })[0] || null;
    });
  }

  // refusal returns why file, found to be of format (null: no image), cannot
  // be uploaded, or "" if it can.
  function refusal(file, format) {
    if (file.size === 0) {
      return file.name + ' is empty.';
    }
    if (config.max_file_size > 0 && file.size > config.max_file_size) {
      return file.name + ' is ' + formatSize(file.size, true) + '; pictures must be ' +
        formatSize(config.max_file_size) + ' or smaller.';
    }
    if (!format) {
      var said = file.type ? ' (' + file.type + ')' : '';
      return file.name + said + ' is not a ' + (acceptedNames() || 'supported') + ' image.';
    }
    if (config.formats.length && acceptedFormats().indexOf(format) < 0) {
      return file.name + ' is a ' + format.name + ' image; pictures must be ' + acceptedNames() + '.';
    }
    return '';
  }

  /* ---------- The three steps ---------- */

  // UploadError is a failed step: the API's code (or an object store's),
  // the HTTP status, the detail, and the limit of a FileTooLarge. A failure
  // of the page itself has text instead of a code.
  function UploadError(fields) {
    this.code = fields.code || '';
    this.status = fields.status || 0;
    this.detail = fields.detail || '';
    this.limit = fields.limit || 0;
    this.text = fields.text || '';
    this.aborted = !!fields.aborted;
  }

  var ABORTED = { aborted: true, text: 'cancelled' };

  // failIfErrors throws the first error of an answer whose "errors" key is
  // non-empty, as Zendesk's theme decides failure.
  function failIfErrors(data, status) {
    if (!data || !data.errors) {
      return;
    }
    var errors = data.errors;
    var first = Array.isArray(errors) ? errors[0] : errors[Object.keys(errors)[0]];
    if (first === undefined) {
      return; // an empty list or object
    }
    if (typeof first !== 'object' || first === null) {
      throw new UploadError({ status: status, detail: String(first) });
    }
    throw new UploadError({ code: first.code, status: status, detail: first.detail || first.title,
      limit: first.meta && first.meta.limit });
  }

  function parseJSON(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  // postJSON runs step 1 or 3 and returns the answer's JSON; signal aborts
  // it.
  function postJSON(url, payload, signal) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(payload),
      credentials: 'same-origin',
      signal: signal
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = parseJSON(text);
        failIfErrors(data, res.status);
        if (!res.ok || data === null) {
          throw new UploadError({ status: res.status, text: 'the server gave an unexpected answer (HTTP ' + res.status + ')' });
        }
        return data;
      });
    }, function () {
      if (signal && signal.aborted) {
        throw new UploadError(ABORTED);
      }
      throw new UploadError({ text: 'the server could not be reached (network error)' });
    });
  }

  // put runs step 2 for item: its file to upload.url with every header in
  // upload.headers (they are signed: none may be left out or changed),
  // moving its bar as the bytes go. item.abort stops it.
  function put(item, upload) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      var bar = item.bar;
      xhr.open('PUT', upload.url);
      var headers = upload.headers || {};
      Object.keys(headers).forEach(function (name) {
        xhr.setRequestHeader(name, headers[name]);
      });
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          bar.max = e.total;
          bar.value = e.loaded;
        }
      };
      xhr.onload = function () {
        try {
          failIfErrors(parseJSON(xhr.responseText), xhr.status);
        } catch (err) {
          reject(err);
          return;
        }
        if (xhr.status < 200 || xhr.status > 299) {
          // An S3 object store answers XML: <Error><Code>ExpiredToken</Code>…
          var code = /<Code>([A-Za-z]+)<\/Code>/.exec(xhr.responseText || '');
          reject(new UploadError(code ? { code: code[1], status: xhr.status } :
            { status: xhr.status, text: 'the upload URL answered HTTP ' + xhr.status }));
          return;
        }
        bar.value = bar.max;
        resolve();
      };
      xhr.onerror = function () {
        reject(new UploadError({ text: 'the upload did not reach the server (network error)' }));
      };
      xhr.onabort = function () {
        reject(new UploadError(ABORTED));
      };
      item.abort = function () {
        xhr.abort();
      };
      bar.value = 0;
      xhr.send(item.file);
    });
  }

  // needsFreshURL says whether err, from a PUT or a claim, means the upload
  // URL and its token cannot be used again: the next try starts at step 1.
  function needsFreshURL(err) {
    return config.new_upload_codes.indexOf(err.code) >= 0;
  }

  // run takes item through the steps it has not done yet: a retry after a
  // failed PUT sends the bytes to the same URL again (a presigned PUT may
  // be repeated until it expires), and after a failed claim claims the same
  // token again; only when the URL or token cannot be reused does it ask
  // for a fresh one. It resolves to the published image's path.
  function run(item) {
    var controller = new AbortController();
    item.abort = function () {
      controller.abort();
    };
    var reused = !!item.upload;
    var step = Promise.resolve();
    if (!item.upload) {
      step = step.then(function () {
        setState(item, 'Starting the upload…');
        return postJSON(CREATE_URL, { content_type: item.format.mime, file_size: item.file.size }, controller.signal);
      }).then(function (created) {
        var up = created.upload;
        if (!up || !up.url || !up.token) {
          throw new UploadError({ text: 'the server gave no upload URL' });
        }
        item.upload = up;
        item.sent = false;
      });
    }
    return step.then(function () {
      if (item.sent) {
        return null;
      }
      setState(item, 'Uploading…');
      var again = reused;
      return put(item, item.upload).then(null, function (err) {
        if (again && err.code === 'AlreadyUploaded') {
          return null; // an earlier try's bytes arrived after all
        }
        throw err;
      });
    }).then(function () {
      item.sent = true;
      // The claim publishes the picture: once it is sent, Cancel could
      // no longer promise that nothing is published.
      item.abort = null;
      setActions(item, []);
      setState(item, 'Publishing…');
      // brand_id is a string, as Zendesk's theme sends it.
      return postJSON(CLAIM_URL, { token: item.upload.token, brand_id: String(brand.value) });
    }).then(function (claimed) {
      var img = claimed.user_image;
      if (!img || typeof img.path !== 'string') {
        throw new UploadError({ text: 'the server gave no image path' });
      }
      return img.path;
    }, function (err) {
      if (!(err instanceof UploadError)) {
        err = new UploadError({ text: String(err) });
      }
      if (needsFreshURL(err)) {
        item.upload = null;
      } else if (err.code === 'NotUploaded') {
        item.sent = false;
      }
      if (reused && item.upload === null && !err.aborted && !item.freshTried) {
        // The old URL could not be reused: this retry starts over once.
        item.freshTried = true;
        return run(item);
      }
      throw err;
    });
  }

  /* ---------- The body and its preview ---------- */

  function escapeAttr(s) {
    return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function unescapeAttr(s) {
    return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }

  // variantWidths are the widths the server makes smaller copies of a
  // picture at (GET PATH?w=WIDTH&auto=format), for srcset: config.json's
  // variant_widths (the server's --variant-widths), or those a theme sets
  // on the form, e.g. <form id="composer" data-variant-widths="320,640">.
  function variantWidths() {
    var attr = form.getAttribute('data-variant-widths');
    if (!attr) {
      return config.variant_widths;
    }
    return attr.split(',').map(function (w) { return parseInt(w, 10); }).filter(function (w) { return w > 0; });
  }

  // imgHTML is the tag for the picture at path, width pixels wide (0:
  // unknown). Browsers pick from srcset the smallest copy that fills the
  // picture's place: the server's copies narrower than the picture, and the
  // picture itself. A GIF gets none: its copies are still pictures of its
  // first frame, and the GIF may move.
  function imgHTML(path, width, alt) {
    var attrs = 'src="' + escapeAttr(path) + '"';
    var still = !/\.gif$/i.test(path);
    var smaller = variantWidths().filter(function (w) { return still && width > 0 && w < width; });
    if (smaller.length) {
      var set = smaller.map(function (w) { return path + '?w=' + w + '&auto=format ' + w + 'w'; });
      set.push(path + ' ' + width + 'w');
      attrs += ' srcset="' + escapeAttr(set.join(', ')) + '" sizes="(max-width: ' + width + 'px) 100vw, ' + width + 'px"';
    }
    return '<img ' + attrs + ' alt="' + escapeAttr(alt) + '">';
  }

  // insertAtCursor puts text in the body at the cursor (replacing any
  // selection), on a line of its own, and leaves the cursor after it.
  function insertAtCursor(text) {
    var start = body.selectionStart;
    var end = body.selectionEnd;
    var before = body.value.slice(0, start);
    var after = body.value.slice(end);
    if (before && before.slice(-1) !== '\n') {
      text = '\n' + text;
    }
    if (after.charAt(0) !== '\n') {
      text += '\n';
    }
    body.setRangeText(text, start, end, 'end');
    renderPreview();
  }

  // replaceInBody replaces the first old in the body by text, keeping the
  // cursor where it is; text "" also takes out the line break after old.
  // It answers false when old is no longer there (the person edited it).
  function replaceInBody(old, text) {
    var at = body.value.indexOf(old);
    if (at < 0) {
      return false;
    }
    var end = at + old.length;
    if (text === '' && body.value.charAt(end) === '\n' && (at === 0 || body.value.charAt(at - 1) === '\n')) {
      end++;
    }
    body.setRangeText(text, at, end, 'preserve');
    renderPreview();
    return true;
  }

  // The <img> tags this script inserts. Only paths on this server become
  // pictures in the preview.
  var IMG_TAG = /<img src="(\/[^/"][^"]*)"(?: srcset="[^"]*" sizes="[^"]*")? alt="([^"]*)">/g;

  // renderPreview shows the post. The body is shown as text except for the
  // <img> tags inserted above, which become pictures, each with the Report
  // action readers of the post get: rendering any HTML typed into the body
  // is for the help center to do, with its sanitizer.
  function renderPreview() {
    previewTitle.textContent = title.value || 'Untitled';
    previewTitle.classList.toggle('placeholder', !title.value);
    previewBody.textContent = '';
    var text = body.value;
    var last = 0;
    var m;
    IMG_TAG.lastIndex = 0;
    while ((m = IMG_TAG.exec(text)) !== null) {
      previewBody.appendChild(document.createTextNode(text.slice(last, m.index)));
      var figure = document.createElement('figure');
      figure.className = 'picture';
      var img = document.createElement('img');
      img.src = unescapeAttr(m[1]);
      img.alt = unescapeAttr(m[2]);
      figure.appendChild(img);
      var id = imageId(img.getAttribute('src'));
      if (id && config.report_reasons.length) {
        figure.appendChild(reportControl(id));
      }
      previewBody.appendChild(figure);
      last = IMG_TAG.lastIndex;
    }
    previewBody.appendChild(document.createTextNode(text.slice(last)));
  }

  // imageId is the id in a published picture's path, /hc/user_images/ID.EXT.
  function imageId(path) {
    var m = /^\/hc\/user_images\/([^/.?]+)\.[a-z]+$/.exec(path);
    return m ? m[1] : '';
  }

  /* ---------- Reporting a picture ---------- */

  var reportForms = 0;

  // labelled makes a form control of tag with id and the label naming it.
  function labelled(tag, id, text) {
    var label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = text;
    var control = document.createElement(tag);
    control.id = id;
    return [label, control];
  }

  // reportControl is the small Report action under a picture of the post:
  // it opens a reason (the server's list), optional details and a Send
  // button, and says in place whether the report was taken.
  function reportControl(id) {
    var n = ++reportForms;
    var details = document.createElement('details');
    details.className = 'report';
    var summary = document.createElement('summary');
    summary.textContent = 'Report';
    details.appendChild(summary);

    var reasonField = labelled('select', 'report-reason-' + n, 'Reason');
    var reason = reasonField[1];
    config.report_reasons.forEach(function (r) {
      var opt = document.createElement('option');
      opt.value = r;
      opt.textContent = capitalize(r);
      reason.appendChild(opt);
    });
    var detailField = labelled('textarea', 'report-detail-' + n, 'Details (optional)');
    var detail = detailField[1];
    detail.rows = 2;
    if (config.max_report_detail > 0) {
      detail.maxLength = config.max_report_detail;
    }

    var send = document.createElement('button');
    send.type = 'button';
    send.textContent = 'Send report';
    var said = document.createElement('p');
    said.className = 'report-status';
    said.setAttribute('role', 'status');

    send.addEventListener('click', function () {
      send.disabled = true;
      said.textContent = 'Sending…';
      postJSON(REPORT_URL.replace('{id}', encodeURIComponent(id)), { reason: reason.value, detail: detail.value })
        .then(function () {
          said.textContent = 'Thank you: a moderator will look at this picture.';
        }, function (err) {
          send.disabled = false;
          var plain = err.code && config.messages[err.code];
          said.textContent = 'The report was not sent: ' +
            (plain ? plain.split('{file}').join('the picture') : err.text || err.detail || 'HTTP ' + err.status) + '.';
        });
    });

    reasonField.concat(detailField, [send, said]).forEach(function (el) {
      details.appendChild(el);
    });
    return details;
  }

  /* ---------- The upload list ---------- */

  var nextId = 1;

  // addItem shows a file in the upload list: a thumbnail, its name, a
  // progress bar named after it, its one status line and its buttons.
  function addItem(file) {
    var item = { id: nextId++, file: file, name: file.name, width: 0 };
    var li = document.createElement('li');
    li.className = 'upload';
    li.setAttribute('data-file', file.name);
    var thumb = document.createElement('img');
    thumb.className = 'thumb';
    thumb.alt = ''; // the name is next to it
    thumb.src = URL.createObjectURL(file);
    // The picture's width, for srcset, once the browser has decoded it.
    item.measured = new Promise(function (resolve) {
      thumb.onload = thumb.onerror = function (e) {
        thumb.onload = thumb.onerror = null;
        item.width = thumb.naturalWidth || 0;
        URL.revokeObjectURL(thumb.src);
        if (e.type === 'error') {
          thumb.removeAttribute('src'); // an empty square, not a broken picture
        }
        resolve();
      };
    });
    var name = document.createElement('span');
    name.className = 'upload-name';
    name.id = 'upload-name-' + item.id;
    name.textContent = file.name;
    var bar = document.createElement('progress');
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute('aria-label', 'Uploading ' + file.name);
    var state = document.createElement('span');
    state.className = 'upload-state';
    var actions = document.createElement('span');
    actions.className = 'upload-actions';
    li.append(thumb, name, state, bar, actions);
    uploads.appendChild(li);
    item.li = li;
    item.bar = bar;
    item.stateEl = state;
    item.actions = actions;
    return item;
  }

  // setState shows item's one current status; kind is '', 'done' or
  // 'failed'.
  function setState(item, text, kind) {
    item.stateEl.textContent = text;
    item.li.className = 'upload' + (kind ? ' ' + kind : '');
  }

  var ACTIONS = {
    Cancel: function (item) { cancel(item); },
    Retry: function (item) { retry(item); },
    Remove: function (item) { remove(item); }
  };

  // setActions gives item the buttons named (Cancel, Retry, Remove), each
  // described by the file's name for screen readers. A keyboard user who
  // pressed one keeps the focus in the item: on the first new button, or on
  // the item itself while it has none (during the claim), so that Retry
  // leads to Cancel and then to Remove.
  function setActions(item, names) {
    var hadFocus = item.li.contains(document.activeElement);
    item.actions.textContent = '';
    names.forEach(function (label) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'upload-action';
      b.textContent = label;
      b.setAttribute('aria-describedby', 'upload-name-' + item.id);
      b.addEventListener('click', function () {
        ACTIONS[label](item);
      });
      item.actions.appendChild(b);
    });
    if (hadFocus && item.actions.firstChild) {
      item.actions.firstChild.focus();
    } else if (hadFocus) {
      item.li.tabIndex = -1;
      item.li.focus();
    }
  }

  // dropItem takes item out of the list, handing the focus on to the drop
  // zone if it was in the item.
  function dropItem(item) {
    var hadFocus = item.li.contains(document.activeElement);
    item.li.remove();
    if (hadFocus) {
      drop.focus();
    }
  }

  // The placeholder of item in the body: "[Uploading NAME…]" while it
  // waits or runs, "[Not uploaded: NAME]" after a failure, numbered when
  // another upload of the same name has one.
  function placeholder(item, failed) {
    var n = item.n > 1 ? ' (' + item.n + ')' : '';
    return failed ? '[Not uploaded: ' + item.name + n + ']' : '[Uploading ' + item.name + n + '…]';
  }

  function insertPlaceholder(item) {
    item.n = 1;
    while (body.value.indexOf(placeholder(item, false)) >= 0) {
      item.n++;
    }
    item.marker = placeholder(item, false);
    insertAtCursor(item.marker);
  }

  // setMarker replaces item's placeholder by text ("" takes it out).
  function setMarker(item, text) {
    if (item.marker) {
      replaceInBody(item.marker, text);
    }
    item.marker = text;
  }

  /* ---------- The queue ---------- */

  var queue = [];
  var running = 0;

  function enqueue(item) {
    queue.push(item);
    setState(item, 'Waiting for another upload to finish…');
    item.bar.removeAttribute('value'); // indeterminate
    setActions(item, ['Cancel']);
    item.abort = function () {
      if (queue.indexOf(item) >= 0) {
        queue.splice(queue.indexOf(item), 1);
      }
    };
    pump();
  }

  // pump starts waiting uploads while fewer than MAX_RUNNING run.
  function pump() {
    while (running < MAX_RUNNING && queue.length) {
      start(queue.shift());
    }
  }

  function start(item) {
    running++;
    run(item).then(function (path) {
      done(item, path);
    }, function (err) {
      if (!err.aborted && !item.cancelled) {
        failed(item, err);
      }
    }).then(function () {
      running--;
      pump();
    });
  }

  function done(item, path) {
    item.path = path;
    item.alt = '';
    item.html = imgHTML(path, item.width, '');
    if (!replaceInBody(item.marker, item.html)) {
      insertAtCursor(item.html); // the placeholder was edited away
    }
    item.marker = '';
    setState(item, 'Added to the body', 'done');
    item.li.setAttribute('data-path', path);
    setActions(item, ['Remove']);
    addAltField(item);
    announce(item.name + ' was uploaded and added to the body. Describe it in its Description field.');
  }

  function failed(item, err) {
    var text = err.text ? item.name + ': ' + err.text + '.' : serverSentence(err, item.name, item.file.size);
    if (err.code) {
      text += ' (' + err.code + ')'; // for the help center's support, as the CLI quotes it
    }
    setState(item, text, 'failed');
    setMarker(item, placeholder(item, true));
    setActions(item, ['Retry', 'Remove']);
    announce(text, 'error');
  }

  // addAltField gives a published picture a field for its alt text, which
  // is written into its <img alt> as it is typed.
  function addAltField(item) {
    var field = document.createElement('span');
    field.className = 'upload-alt';
    var labelAndInput = labelled('input', 'alt-' + item.id, 'Description');
    var alt = labelAndInput[1];
    alt.type = 'text';
    alt.className = 'alt';
    alt.setAttribute('aria-describedby', 'upload-name-' + item.id + ' alt-hint');
    alt.addEventListener('input', function () {
      var html = imgHTML(item.path, item.width, alt.value);
      if (replaceInBody(item.html, html)) {
        item.html = html;
      }
    });
    field.append(labelAndInput[0], alt);
    item.li.appendChild(field);
  }

  function cancel(item) {
    item.cancelled = true;
    if (item.abort) {
      item.abort();
    }
    setMarker(item, '');
    dropItem(item);
    announce('The upload of ' + item.name + ' was cancelled.');
  }

  function retry(item) {
    item.freshTried = false;
    setMarker(item, placeholder(item, false));
    enqueue(item);
  }

  function remove(item) {
    if (item.html) {
      if (!replaceInBody(item.html, '')) {
        // The tag was edited by hand: take out the first <img> of its path.
        var tag = new RegExp('<img src="' + escapeAttr(item.path).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '"[^>]*>');
        var m = tag.exec(body.value);
        if (m) {
          replaceInBody(m[0], '');
        }
      }
      announce(item.name + ' was removed from the body.');
    } else {
      setMarker(item, '');
      announce(item.name + ' was removed from the list.');
    }
    dropItem(item);
  }

  /* ---------- Files in ---------- */

  // checked is the last file's check: each file is looked at as soon as it
  // comes, but queued only after the files picked before it, so uploads
  // start in the order the files were picked.
  var checked = Promise.resolve();

  function handleFiles(files) {
    if (drop.disabled) {
      announce('Pictures cannot be uploaded here: ' + limits.textContent, 'error');
      return;
    }
    Array.prototype.forEach.call(files, function (file) {
      var item = addItem(file);
      // The placeholder goes in now, at the cursor, whatever happens next.
      insertPlaceholder(item);
      setState(item, 'Checking…');
      setActions(item, ['Cancel']);
      item.abort = null; // nothing to stop while the file is looked at
      var check = Promise.all([sniff(file), item.measured]);
      checked = checked.then(function () { return check; }).then(function (found) {
        if (item.cancelled) {
          return;
        }
        item.format = found[0];
        var why = refusal(file, item.format);
        if (why) {
          setMarker(item, '');
          setState(item, why, 'failed');
          setActions(item, ['Remove']);
          announce(why, 'error');
          return;
        }
        enqueue(item);
      }, function () {
        if (!item.cancelled) {
          var why = item.name + ' could not be read.';
          setMarker(item, '');
          setState(item, why, 'failed');
          setActions(item, ['Remove']);
          announce(why, 'error');
        }
      });
    });
  }

  function hasFiles(e) {
    return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0;
  }

  // acceptDrops makes el take dropped files, highlighted while dragged over.
  function acceptDrops(el) {
    el.addEventListener('dragover', function (e) {
      if (hasFiles(e)) {
        e.preventDefault();
        e.stopPropagation();
        e.dataTransfer.dropEffect = 'copy';
        el.classList.add('dragover');
      }
    });
    el.addEventListener('dragleave', function () {
      el.classList.remove('dragover');
    });
    el.addEventListener('drop', function (e) {
      el.classList.remove('dragover');
      if (hasFiles(e)) {
        e.preventDefault();
        e.stopPropagation();
        handleFiles(e.dataTransfer.files);
      }
    });
  }

  /* ---------- Setup ---------- */

  function loadConfig() {
    return fetch('config.json', { headers: { 'Accept': 'application/json' } }).then(function (res) {
      if (!res.ok) {
        throw new Error('HTTP status ' + res.status);
      }
      return res.json();
    });
  }

  function applyConfig(c) {
    config.brands = Array.isArray(c.brands) ? c.brands : [];
    config.max_file_size = Number(c.max_file_size) || 0;
    config.content_types = Array.isArray(c.content_types) ? c.content_types : [];
    // The API's formats (names and signatures) and the plain sentence of
    // each error code.
    config.formats = Array.isArray(c.formats) ? c.formats : [];
    config.messages = c.messages && typeof c.messages === 'object' ? c.messages : {};
    // The codes after which a retry needs a fresh upload URL.
    config.new_upload_codes = Array.isArray(c.new_upload_codes) ? c.new_upload_codes : [];
    // The reasons a reader may report a picture for (none: no Report action).
    config.report_reasons = Array.isArray(c.report_reasons) ? c.report_reasons : [];
    config.max_report_detail = Number(c.max_report_detail) || 0;
    // The widths of the server's smaller copies, for srcset.
    config.variant_widths = Array.isArray(c.variant_widths) ? c.variant_widths.filter(function (w) { return w > 0; }) : [];
    brand.textContent = '';
    config.brands.forEach(function (id) {
      var opt = document.createElement('option');
      opt.value = id;
      opt.textContent = id;
      brand.appendChild(opt);
    });
    // The file dialog offers the accepted types; a mislabelled file can
    // still be dropped or pasted, and is judged by its bytes.
    input.accept = acceptedFormats().map(function (f) { return f.mime; }).join(',');
    limits.textContent = limitsText() || 'Images';
    if (!config.brands.length) {
      limits.textContent = 'No brand is registered, so nothing can be published: start the server with --brand.';
      brand.disabled = true;
      return;
    }
    drop.disabled = false;
  }

  drop.disabled = true;
  drop.addEventListener('click', function () {
    input.click();
  });
  input.addEventListener('change', function () {
    handleFiles(input.files);
    input.value = ''; // so that the same file can be picked again
  });
  body.addEventListener('paste', function (e) {
    var files = e.clipboardData ? e.clipboardData.files : [];
    if (files.length && !drop.disabled) {
      e.preventDefault();
      handleFiles(files);
    }
  });
  acceptDrops(drop);
  acceptDrops(body);
  // A file dropped anywhere else would make the browser leave the page.
  document.addEventListener('dragover', function (e) {
    if (hasFiles(e)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'none';
    }
  });
  document.addEventListener('drop', function (e) {
    if (hasFiles(e)) {
      e.preventDefault();
    }
  });
  form.addEventListener('submit', function (e) {
    e.preventDefault(); // the post itself is not saved
  });
  title.addEventListener('input', renderPreview);
  body.addEventListener('input', renderPreview);
  renderPreview();

  loadConfig().then(applyConfig, function (err) {
    limits.textContent = 'The upload settings could not be loaded.';
    announce('Pictures cannot be uploaded: the settings could not be loaded (' + err.message + ').', 'error');
  });
})();
