/*
 * composer.js: the "new post" box of the userimages composer page.
 *
 * Self-contained on purpose: plain JavaScript with no library, no build step
 * and no request beyond the page's own server, so that it can be copied into
 * a help-center theme. To do so, keep upload() and its helpers, replace
 * loadConfig() with the theme's own values (the brand id, the limits) and
 * the element ids with the theme's.
 *
 * Each picture is uploaded in the User Images API's three steps, exactly as
 * Zendesk's own help-center theme does it:
 *   1. POST /api/v2/guide/user_images/uploads
 *      {"content_type": file.type, "file_size": file.size}
 *      -> {"upload": {"url", "headers", "token"}}
 *   2. PUT the file to upload.url with every header in upload.headers.
 *      XMLHttpRequest, not fetch: only it reports upload progress.
 *   3. POST /api/v2/guide/user_images {"token", "brand_id"}, brand_id a string
 *      -> {"user_image": {"path"}}
 * then inserts <img src="PATH" alt="FILE NAME"> into the body at the cursor.
 * Like Zendesk's theme, it treats an answer with a non-empty "errors" key as
 * a failure whatever its status, and shows the first error's title and
 * detail. Files of the wrong type or size are refused before any request.
 */
(function () {
  'use strict';

  var CREATE_URL = '/api/v2/guide/user_images/uploads';
  var CLAIM_URL = '/api/v2/guide/user_images';
  // How many status messages stay on screen (and in the live region).
  var KEEP_MESSAGES = 6;


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

  // The service's limits, from config.json: max_file_size in bytes (0: no
  // check here) and content_types (empty: no check here). The server checks
  // again either way.
  var config = { brands: [], max_file_size: 0, content_types: [], type_names: {} };

  /* ---------- Messages ---------- */

  // announce adds a message to the live region, which screen readers read
  // out politely; kind "error" styles it as a failure.
  function announce(text, kind) {
    var p = document.createElement('p');
    p.className = 'message' + (kind === 'error' ? ' message-error' : '');
    p.textContent = text;
    statusRegion.appendChild(p);
    while (statusRegion.childNodes.length > KEEP_MESSAGES) {
      statusRegion.removeChild(statusRegion.firstChild);
    }
  }

  // "A", "A or B", "A, B or C".
  function orList(names) {
    if (names.length < 2) {
      return names.join('');
    }
    return names.slice(0, -1).join(', ') + ' or ' + names[names.length - 1];
  }

  // formatSize writes a byte count in decimal units, rounded down so that
  // "or smaller" stays true: 2000000 is "2 MB", 100000 is "100 KB".
  function formatSize(n) {
    if (n >= 1e6) {
      return Math.floor(n / 1e5) / 10 + ' MB';
    }
    if (n >= 1e3) {
      return Math.floor(n / 1e2) / 10 + ' KB';
    }
    return n + ' bytes';
  }

  function typeName(type) {
    return config.type_names[type] || type.replace(/^image\//, '').toUpperCase();
  }

  // limitsText is the rule a refused file broke, worded like Zendesk's:
  // "Images must be JPEG, PNG, GIF or WebP and 2 MB or smaller".
  function limitsText() {
    var parts = [];
    if (config.content_types.length) {
      parts.push(orList(config.content_types.map(typeName)));
    }
    if (config.max_file_size > 0) {
      parts.push(formatSize(config.max_file_size) + ' or smaller');
    }
    return parts.length ? 'Images must be ' + parts.join(' and ') : '';
  }

  // refusal returns why file cannot be uploaded, or "" if it can.
  function refusal(file) {
    var badType = config.content_types.length && config.content_types.indexOf(file.type) < 0;
    var tooLarge = config.max_file_size > 0 && file.size > config.max_file_size;
    if (badType || tooLarge) {
      return limitsText() + '.';
    }
    if (file.size === 0) {
      return 'The file is empty.';
    }
    return '';
  }

  /* ---------- The three steps ---------- */

  // UploadError is a failed step, with what to show.
  function UploadError(title, detail) {
    this.title = title;
    this.detail = detail || '';
  }

  // failIfErrors throws the first error of an answer whose "errors" key is
  // non-empty, as Zendesk's theme decides failure.
  function failIfErrors(data) {
    if (!data || !data.errors) {
      return;
    }
    var errors = data.errors;
    var first = Array.isArray(errors) ? errors[0] : errors[Object.keys(errors)[0]];
    if (first === undefined) {
      return; // an empty list or object
    }
    if (typeof first !== 'object' || first === null) {
      throw new UploadError(String(first));
    }
    throw new UploadError(first.title || first.code || 'Error', first.detail || '');
  }

  function parseJSON(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  // postJSON runs step 1 or 3 and returns the answer's JSON.
  function postJSON(url, payload) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(payload),
      credentials: 'same-origin'
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = parseJSON(text);
        failIfErrors(data);
        if (!res.ok || data === null) {
          throw new UploadError('Unexpected answer', 'HTTP status ' + res.status);
        }
        return data;
      });
    }, function () {
      throw new UploadError('Network error', 'the server could not be reached');
    });
  }

  // put runs step 2: the file to upload.url with every header in
  // upload.headers (they are signed: none may be left out or changed),
  // moving bar as the bytes go.
  function put(upload, file, bar) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
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
          failIfErrors(parseJSON(xhr.responseText));
        } catch (err) {
          reject(err);
          return;
        }
        if (xhr.status < 200 || xhr.status > 299) {
          reject(new UploadError('Upload failed', 'HTTP status ' + xhr.status));
          return;
        }
        bar.value = bar.max;
        resolve();
      };
      xhr.onerror = function () {
        reject(new UploadError('Network error', 'the upload did not reach the server'));
      };
      xhr.send(file);
    });
  }

  // upload runs the three steps for one file and returns the published
  // image's path.
  function upload(file, bar) {
    return postJSON(CREATE_URL, { content_type: file.type, file_size: file.size })
      .then(function (created) {
        var up = created.upload;
        if (!up || !up.url || !up.token) {
          throw new UploadError('Unexpected answer', 'no upload URL');
        }
        return put(up, file, bar).then(function () {
          // brand_id is a string, as Zendesk's theme sends it.
          return postJSON(CLAIM_URL, { token: up.token, brand_id: String(brand.value) });
        });
      })
      .then(function (claimed) {
        var img = claimed.user_image;
        if (!img || typeof img.path !== 'string') {
          throw new UploadError('Unexpected answer', 'no image path');
        }
        return img.path;
      });
  }

  /* ---------- The body and its preview ---------- */

  function escapeAttr(s) {
    return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function unescapeAttr(s) {
    return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }

  function imgHTML(path, name) {
    return '<img src="' + escapeAttr(path) + '" alt="' + escapeAttr(name) + '">';
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

  // The <img> tags this script inserts. Only paths on this server become
  // pictures in the preview.
  var IMG_TAG = /<img src="(\/[^/"][^"]*)" alt="([^"]*)">/g;

  // renderPreview shows the post. The body is shown as text except for the
  // <img> tags inserted above, which become pictures: rendering any HTML
  // typed into the body is for the help center to do, with its sanitizer.
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
      var img = document.createElement('img');
      img.src = unescapeAttr(m[1]);
      img.alt = unescapeAttr(m[2]);
      previewBody.appendChild(img);
      last = IMG_TAG.lastIndex;
    }
    previewBody.appendChild(document.createTextNode(text.slice(last)));
  }

  /* ---------- Files in ---------- */

  // addItem shows a file in the upload list: a thumbnail, its name, a
  // progress bar named after it and its state.
  function addItem(file) {
    var li = document.createElement('li');
    li.className = 'upload';
    var thumb = document.createElement('img');
    thumb.className = 'thumb';
    thumb.alt = ''; // the name is next to it
    thumb.src = URL.createObjectURL(file);
    thumb.onload = thumb.onerror = function () {
      URL.revokeObjectURL(thumb.src);
    };
    var name = document.createElement('span');
    name.className = 'upload-name';
    name.textContent = file.name;
    var bar = document.createElement('progress');
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute('aria-label', 'Uploading ' + file.name);
    var state = document.createElement('span');
    state.className = 'upload-state';
    state.textContent = 'Uploading…';
    li.append(thumb, name, bar, state);
    uploads.appendChild(li);
    return { li: li, bar: bar, state: state };
  }

  function handleFiles(files) {
    if (drop.disabled) {
      announce('Pictures cannot be uploaded here: ' + limits.textContent, 'error');
      return;
    }
    Array.prototype.forEach.call(files, function (file) {
      var why = refusal(file);
      if (why) {
        announce(file.name + ' was not uploaded. ' + why, 'error');
        return;
      }
      var item = addItem(file);
      announce('Uploading ' + file.name + '…');
      upload(file, item.bar).then(function (path) {
        insertAtCursor(imgHTML(path, file.name));
        item.li.classList.add('done');
        item.state.textContent = 'Added to the body';
        announce(file.name + ' was uploaded and added to the body.');
      }, function (err) {
        var e = err instanceof UploadError ? err : new UploadError('Error', String(err));
        item.li.classList.add('failed');
        item.state.textContent = 'Failed: ' + e.title;
        announce(file.name + ' was not uploaded. ' + e.title + (e.detail ? ': ' + e.detail : '') + '.', 'error');
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
    // Readable names of the image types, for messages (the API's formats).
    config.type_names = c.type_names && typeof c.type_names === 'object' ? c.type_names : {};
    brand.textContent = '';
    config.brands.forEach(function (id) {
      var opt = document.createElement('option');
      opt.value = id;
      opt.textContent = id;
      brand.appendChild(opt);
    });
    if (config.content_types.length) {
      input.accept = config.content_types.join(',');
    }
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
