/*
 * composer.js: the "new post" box of the userimages composer page.
 *
 * Self-contained on purpose: plain JavaScript with no library, no build step
 * and no request beyond the page's own server, so that it can be copied into
 * a help-center theme. To do so, keep the upload queue and its helpers,
 * replace loadConfig() with the theme's own values (the brand id, the
 * limits, and the formats, messages and retryable codes of config.json) and
 * the element ids with the theme's. The form's data attributes fit the
 * pictures to the theme: data-sizes (the inserted pictures' sizes),
 * data-max-side (the longest side a photo is resized to) and
 * data-variant-widths (the widths of the server's copies, for srcset).
 *
 * A host app that signs its users in renders a JWT it signed for the
 * signed-in user (DEPLOYMENT.md, "Users of the host app") as data-user-token on the
 * form: steps 1 and 3 then send it as "Authorization: Bearer TOKEN", so
 * the pictures are that user's (their rate limits, their own pictures in
 * the console, theirs to delete). It is read at each request: a host app
 * may put a fresh token there before the old one expires. Without it the
 * uploads are anonymous.
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
 * sent as image/png. A file of the wrong type is refused before any request,
 * saying what its bytes are (a HEIC photo, a PDF document, text…).
 *
 * A phone photo is larger than the server takes: a JPEG, PNG or WebP over
 * the size limit, or longer than MAX_SIDE pixels on its longest side, is
 * drawn upright (its EXIF orientation applied) at most MAX_SIDE pixels long
 * and encoded again, as JPEG (WebP for a PNG or WebP, which may be
 * transparent), the quality stepped down until it fits, as Discourse does.
 * Animated pictures are not: they would stop moving; one over the limit is
 * refused with its size.
 *
 * When a picture is picked, a placeholder "[Uploading NAME…]" goes into the
 * body at the cursor, and the claimed picture replaces it: pictures land in
 * the order they were picked, whichever finishes first. A picture goes in
 * as <img src="PATH" srcset="PATH?w=320&amp;auto=format 320w, …" sizes="…"
 * alt="">, its alt text written by the person in a field of its own.
 * The preview beside the form is updated in place as the post is typed:
 * pictures already shown stay (no reloading, no flicker), and so does a
 * Report form someone is filling in.
 *
 * Each upload has one status line and its buttons: Cancel while it waits
 * or runs, Retry after a failure that trying again can fix (from the step
 * that failed), Remove after it. Remove means gone: it takes the picture
 * out of the body at once and, UNDO_SECONDS later unless Undo is pressed,
 * deletes it from the server (DELETE_URL with the upload token the page
 * claimed it with, sent as X-Upload-Token: only this page knows it, and
 * the server takes it for a day after the claim); a page closed meanwhile
 * sends the deletion as it goes. At most MAX_RUNNING
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
  // Also userimages' extension: the page deletes a picture it uploaded
  // with the token it claimed it with, in this header.
  var DELETE_URL = '/api/v2/guide/user_images/{id}';
  var UPLOAD_TOKEN_HEADER = 'X-Upload-Token';
  // How long Remove waits, offering Undo, before it deletes the picture
  // from the server. A theme sets another on the form:
  // <form id="composer" data-undo-seconds="10">.
  var UNDO_SECONDS = 5;
  // How many uploads run at once; the others wait in turn.
  var MAX_RUNNING = 3;
  // The longest side, in pixels, of a picture the page resizes: phone
  // photos are 4000 px and more, and a post column shows 700 or so (twice
  // that on a sharp screen). A theme sets another on the form:
  // <form id="composer" data-max-side="2048">; 0 resizes only for size.
  var MAX_SIDE = 2560;
  // The widest a picture shows in a post, for its sizes attribute: the
  // column of a forum or help-center post is 600 to 800 px wide (a
  // Discourse post's is 690), the whole screen on a phone; a picture
  // narrower than that shows at its own width. A theme whose column
  // differs sets sizes on the form:
  // <form id="composer" data-sizes="(max-width: 900px) 100vw, 900px">.
  var POST_COLUMN = 720;
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
    retryable_codes: [], report_reasons: [], max_report_detail: 0, variant_widths: [] };

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
    if (plain && err.code === 'ContentRejected' && err.detail) {
      // The site's claim hook gave its reason: the server made it one
      // line of plain text, shown as text.
      return capitalize(plain).split('{file}').join(name) + ': ' + err.detail.replace(/[.\s]+$/, '') + '.';
    }
    if (plain) {
      return capitalize(plain).split('{file}').join(name) + '.';
    }
    return name + ' was refused (HTTP ' + err.status + ').'; // failed() adds the code
  }

  /* ---------- Looking at a file ---------- */

  // HEAD is how much of a file sniff reads: its signature, enough to tell
  // text from other bytes, and the chunks of a PNG before its pixels.
  var HEAD = 4096;

  function startsWith(head, bytes, at) {
    if (head.length < at + bytes.length) {
      return false;
    }
    return bytes.every(function (b, i) { return head[at + i] === b; });
  }

  function ascii(head, at, n) {
    return String.fromCharCode.apply(null, head.subarray(at, at + n));
  }

  // sniff reads the first bytes of file and answers what they are: format,
  // the API format whose signature they start with (null: none); animated,
  // whether that PNG or WebP moves; and other, for bytes of no API format,
  // what they are instead: 'HEIC', 'AVIF', 'PDF', 'text' or '' (unknown).
  function sniff(file) {
    return file.slice(0, HEAD).arrayBuffer().then(function (buf) {
      var head = new Uint8Array(buf);
      var found = { format: null, animated: false, other: '' };
      if (!config.formats.length) {
        // A theme that gives no formats: the browser's type is all there is.
        found.format = file.type ? { mime: file.type, name: file.type, magics: [] } : null;
      } else {
        found.format = config.formats.filter(function (f) {
          return f.magics.some(function (m) { return startsWith(head, m, 0); }) &&
            (!f.tag || startsWith(head, f.tag, f.tag_offset || 0));
        })[0] || null;
      }
      if (found.format) {
        found.animated = isAnimated(head, found.format.mime);
      } else {
        found.other = otherKind(head);
      }
      return found;
    });
  }

  // isAnimated says whether head starts an animated PNG (an acTL chunk
  // before the first IDAT) or an animated WebP (VP8X with its animation
  // flag). A GIF is never redrawn, animated or not.
  function isAnimated(head, mime) {
    if (mime === 'image/webp') {
      return ascii(head, 12, 4) === 'VP8X' && (head[20] & 0x02) !== 0;
    }
    if (mime === 'image/png') {
      for (var at = 8; at + 8 <= head.length;) {
        var type = ascii(head, at + 4, 4);
        if (type === 'acTL') {
          return true;
        }
        if (type === 'IDAT') {
          return false;
        }
        at += 12 + ((head[at] << 24) >>> 0) + (head[at + 1] << 16) + (head[at + 2] << 8) + head[at + 3];
      }
    }
    return false;
  }

  var HEIF_BRANDS = ['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1'];

  // otherKind names bytes of no API format, for telling the person what
  // the file is: an iPhone's HEIC photo, an AVIF, a PDF, text, or ''.
  function otherKind(head) {
    if (ascii(head, 4, 4) === 'ftyp') {
      // An ISO media file: its major brand, then its compatible brands.
      var size = Math.min(head.length, (head[0] << 24 >>> 0) + (head[1] << 16) + (head[2] << 8) + head[3]);
      var brands = [ascii(head, 8, 4)];
      for (var at = 16; at + 4 <= size; at += 4) {
        brands.push(ascii(head, at, 4));
      }
      var has = function (list) { return brands.some(function (b) { return list.indexOf(b) >= 0; }); };
      if (has(['avif', 'avis'])) {
        return 'AVIF';
      }
      if (has(HEIF_BRANDS)) {
        return 'HEIC';
      }
      return '';
    }
    if (ascii(head, 0, 5) === '%PDF-') {
      return 'PDF';
    }
    // Text: UTF-8 (a character cut at the end of head aside) with no
    // control characters but tabs, line and page breaks.
    try {
      var text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 3)));
      if (text.length && !/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text)) {
        return 'text';
      }
    } catch (e) {
      // Not UTF-8.
    }
    return '';
  }

  // mustBe is the sentence that says which formats are accepted.
  function mustBe() {
    return acceptedFormats().length ? ' Pictures must be ' + acceptedNames() + '.' : '';
  }

  // typeRefusal returns why file, found to be what sniff says, cannot be
  // uploaded whatever its size, or '' if it can: what its bytes really
  // are, whatever its name or the browser's guess from it says.
  function typeRefusal(file, found) {
    if (file.size === 0) {
      return file.name + ' is empty.';
    }
    var format = found.format;
    if (format) {
      if (config.formats.length && acceptedFormats().indexOf(format) < 0) {
        return file.name + ' is a ' + format.name + ' image; pictures must be ' + acceptedNames() + '.';
      }
      return '';
    }
    switch (found.other) {
      case 'HEIC':
        // The iPhone's format, which only Safari shows.
        return file.name + ' is a HEIC photo, which most browsers cannot show.' + mustBe() +
          (accepts('image/jpeg') ? ' Save or export the photo as JPEG, and pick that.' : '');
      case 'AVIF':
        return file.name + ' is an AVIF image, which this server does not take.' + mustBe();
      case 'PDF':
        return file.name + ' is a PDF document, not a picture.' + mustBe();
      case 'text':
        return file.name + ' is text, not a picture.' + mustBe();
    }
    return file.name + ' is not a picture: its bytes match no image format (a damaged or renamed file?).' + mustBe();
  }

  // sizeRefusal says that file is over the size limit.
  function sizeRefusal(file) {
    return file.name + ' is ' + formatSize(file.size, true) + '; pictures must be ' +
      formatSize(config.max_file_size) + ' or smaller.';
  }

  /* ---------- Making a photo smaller ---------- */

  // maxSide is the longest side a picture may keep: data-max-side on the
  // form, or MAX_SIDE; 0 for none.
  function maxSide() {
    var n = parseInt(form.getAttribute('data-max-side'), 10);
    return n >= 0 ? n : MAX_SIDE;
  }

  // accepts says whether the server takes pictures of type mime: one of
  // its formats, or of content_types when a theme gives no formats.
  function accepts(mime) {
    if (!config.formats.length) {
      return !config.content_types.length || config.content_types.indexOf(mime) >= 0;
    }
    return acceptedFormats().some(function (f) { return f.mime === mime; });
  }

  var encodes = {};

  // canEncode says whether this browser's canvas writes type: every one
  // writes JPEG; Safari writes no WebP, and answers PNG when asked for it.
  function canEncode(type) {
    if (!(type in encodes)) {
      var c = document.createElement('canvas');
      c.width = c.height = 1;
      encodes[type] = c.toDataURL(type).indexOf('data:' + type) === 0;
    }
    return encodes[type];
  }

  // resizedType is the type a picture of found's format is encoded as when
  // it is made smaller, or '' when it is not to be: JPEG for a JPEG; WebP
  // for a PNG or WebP, which may be transparent (or JPEG, on white, where
  // WebP cannot be). An animation is not redrawn: it would stop moving.
  function resizedType(found) {
    var mime = found.format ? found.format.mime : '';
    if (found.animated || ['image/jpeg', 'image/png', 'image/webp'].indexOf(mime) < 0 || !window.createImageBitmap) {
      return '';
    }
    var order = mime === 'image/jpeg' ? ['image/jpeg', 'image/webp'] : ['image/webp', 'image/jpeg'];
    return order.filter(function (t) { return accepts(t) && canEncode(t); })[0] || '';
  }

  // decode draws file upright: its EXIF orientation applied, which today's
  // browsers do by default and older ones do when asked 'from-image'.
  function decode(file) {
    return createImageBitmap(file, { imageOrientation: 'from-image' }).then(null, function (err) {
      if (err && err.name === 'TypeError') {
        return createImageBitmap(file); // a browser that knows no 'from-image'
      }
      throw err;
    });
  }

  function encode(canvas, type, quality) {
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, type, quality);
    });
  }

  // The JPEG and WebP qualities shrink tries, best first, at each size.
  var QUALITIES = [0.92, 0.85, 0.78, 0.7, 0.6];
  // How many times shrink makes the picture smaller still (three quarters
  // of its sides each time) when no quality fits.
  var SMALLER_TRIES = 3;

  // shrink resolves to file drawn upright at most maxSide() long, encoded
  // as type at the best of QUALITIES that fits in limit bytes (0: no limit),
  // smaller still when none does: {blob, width}; or to null when nothing
  // fits.
  function shrink(file, type, limit) {
    return decode(file).then(function (bitmap) {
      var side = maxSide();
      var scale = side > 0 ? Math.min(1, side / Math.max(bitmap.width, bitmap.height)) : 1;
      var canvas = document.createElement('canvas');
      var draw = function () {
        canvas.width = Math.max(1, Math.round(bitmap.width * scale));
        canvas.height = Math.max(1, Math.round(bitmap.height * scale));
        var ctx = canvas.getContext('2d');
        if (type === 'image/jpeg') {
          // JPEG has no transparency: on white, as a page shows it.
          ctx.fillStyle = '#fff';
          ctx.fillRect(0, 0, canvas.width, canvas.height);
        }
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = 'high';
        ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      };
      var attempt = function (q, tries) {
        if (q === 0) {
          draw();
        }
        return encode(canvas, type, QUALITIES[q]).then(function (blob) {
          if (blob && blob.type === type && (limit <= 0 || blob.size <= limit)) {
            return { blob: blob, width: canvas.width };
          }
          if (!blob || blob.type !== type) {
            return null;
          }
          if (q + 1 < QUALITIES.length) {
            return attempt(q + 1, tries);
          }
          if (tries >= SMALLER_TRIES) {
            return null;
          }
          scale *= 0.75;
          return attempt(0, tries + 1);
        });
      };
      var release = function () {
        bitmap.close();
        canvas.width = canvas.height = 0; // its pixels go now, not when collected
      };
      return attempt(0, 0).then(function (out) {
        release();
        return out;
      }, function (err) {
        release();
        throw err;
      });
    });
  }

  // showThumb shows file as item's thumbnail once the browser has decoded
  // it, which also gives its size; a file the browser cannot show keeps
  // the empty square, not a broken picture.
  function showThumb(item, file) {
    return new Promise(function (resolve) {
      var img = document.createElement('img');
      img.className = 'thumb';
      img.alt = ''; // the name is next to it
      var url = URL.createObjectURL(file);
      img.onload = img.onerror = function (e) {
        img.onload = img.onerror = null;
        URL.revokeObjectURL(url);
        if (e.type === 'load' && img.naturalWidth > 0) {
          item.width = img.naturalWidth;
          item.height = img.naturalHeight;
          item.thumb.replaceWith(img);
          item.thumb = img;
        }
        resolve();
      };
      img.src = url;
    });
  }

  // prepare readies item, whose file is of an accepted type, for the
  // queue: it shows its thumbnail and learns its width, and makes a file
  // over the size limit or maxSide() smaller. It resolves to why the file
  // cannot be uploaded, or ''.
  function prepare(item, found) {
    var file = item.file;
    var limit = config.max_file_size;
    var over = limit > 0 && file.size > limit;
    var type = resizedType(found);
    if (over && !type) {
      return Promise.resolve(sizeRefusal(file));
    }
    return showThumb(item, file).then(function () {
      var side = maxSide();
      var tooLong = side > 0 && Math.max(item.width, item.height) > side;
      if (!type || !(over || tooLong) || item.cancelled) {
        return '';
      }
      setState(item, 'Making it smaller…');
      return shrink(file, type, limit).then(null, function () {
        return null; // the browser cannot draw it: as if nothing fitted
      }).then(function (out) {
        if (!out) {
          // Too large however drawn, or not drawable: the server judges a
          // file under the limit.
          return over ? sizeRefusal(file) : '';
        }
        item.file = new File([out.blob], file.name, { type: out.blob.type });
        item.format = acceptedFormats().filter(function (f) { return f.mime === out.blob.type; })[0] ||
          { mime: out.blob.type, name: out.blob.type, magics: [] }; // a theme that gives no formats
        item.width = out.width;
        item.resized = 'resized from ' + formatSize(file.size) + ' to ' + formatSize(out.blob.size);
        item.bar.max = out.blob.size;
        return '';
      });
    });
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
    var headers = { 'Content-Type': 'application/json', 'Accept': 'application/json' };
    var userToken = form.getAttribute('data-user-token');
    if (userToken) {
      headers['Authorization'] = 'Bearer ' + userToken;
    }
    return fetch(url, {
      method: 'POST',
      headers: headers,
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

  // sizesFor is the sizes attribute of a picture width pixels wide:
  // data-sizes on the form, or the whole screen up to the post column or
  // the picture's own width, whichever is narrower.
  function sizesFor(width) {
    var attr = form.getAttribute('data-sizes');
    if (attr) {
      return attr;
    }
    var column = Math.min(width, POST_COLUMN);
    return '(max-width: ' + column + 'px) 100vw, ' + column + 'px';
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
      attrs += ' srcset="' + escapeAttr(set.join(', ')) + '" sizes="' + escapeAttr(sizesFor(width)) + '"';
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
    updatePreview();
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
    updatePreview();
    return true;
  }

  // The <img> tags this script inserts. Only paths on this server become
  // pictures in the preview.
  var IMG_TAG = /<img src="(\/[^/"][^"]*)"(?: srcset="[^"]*" sizes="[^"]*")? alt="([^"]*)">/g;

  function updateTitle() {
    previewTitle.textContent = title.value || 'Untitled';
    previewTitle.classList.toggle('placeholder', !title.value);
  }

  // updatePreview shows the post's body. It is shown as text except for
  // the <img> tags inserted above, which become pictures, each with the
  // Report action readers of the post get: rendering any HTML typed into
  // the body is for the help center to do, with its sanitizer. It changes
  // the preview in place: text where it changed, pictures still in the
  // body kept as they are (not loaded again, and a Report form being
  // filled in keeps what was typed), moved only when their order changed.
  function updatePreview() {
    var text = body.value;
    // What is shown now: its text nodes in order, its pictures by src.
    var texts = [];
    var shown = {};
    Array.prototype.forEach.call(previewBody.childNodes, function (node) {
      if (node.nodeType === Node.TEXT_NODE) {
        texts.push(node);
      } else {
        var src = node.getAttribute('data-src');
        (shown[src] = shown[src] || []).push(node);
      }
    });
    var wanted = [];
    var addText = function (s) {
      var node = texts.shift() || document.createTextNode('');
      if (node.data !== s) {
        node.data = s;
      }
      wanted.push(node);
    };
    var last = 0;
    var m;
    IMG_TAG.lastIndex = 0;
    while ((m = IMG_TAG.exec(text)) !== null) {
      addText(text.slice(last, m.index));
      var src = unescapeAttr(m[1]);
      var figure = (shown[src] || []).shift() || pictureFigure(src);
      var img = figure.querySelector('img');
      var alt = unescapeAttr(m[2]);
      if (img.alt !== alt) {
        img.alt = alt;
      }
      addReport(figure);
      wanted.push(figure);
      last = IMG_TAG.lastIndex;
    }
    addText(text.slice(last));
    wanted.forEach(function (node, i) {
      var at = previewBody.childNodes[i] || null;
      if (at !== node) {
        previewBody.insertBefore(node, at);
      }
    });
    while (previewBody.childNodes.length > wanted.length) {
      previewBody.removeChild(previewBody.lastChild);
    }
  }

  // pictureFigure is a picture of the post in the preview.
  function pictureFigure(src) {
    var figure = document.createElement('figure');
    figure.className = 'picture';
    figure.setAttribute('data-src', src);
    var img = document.createElement('img');
    img.src = src;
    img.alt = ''; // until the body's tag says otherwise
    figure.appendChild(img);
    return figure;
  }

  // addReport gives a picture of the post its Report action, once the
  // server's reasons are known, if it is a published picture.
  function addReport(figure) {
    var id = imageId(figure.getAttribute('data-src'));
    if (id && config.report_reasons.length && !figure.querySelector('.report')) {
      figure.appendChild(reportControl(id));
    }
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

  // addItem shows a file in the upload list: a square for its thumbnail
  // (shown once the file is found to be a picture: see showThumb), its
  // name, a progress bar named after it, its one status line and its
  // buttons.
  function addItem(file) {
    var item = { id: nextId++, file: file, name: file.name, width: 0, height: 0 };
    var li = document.createElement('li');
    li.className = 'upload';
    li.setAttribute('data-file', file.name);
    var thumb = document.createElement('span');
    thumb.className = 'thumb';
    item.thumb = thumb;
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
    Remove: function (item) { remove(item); },
    Undo: function (item) { undo(item); },
    Delete: function (item) { deletePicture(item, false); }
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
  // waits or runs, "[Not uploaded: NAME]" after a failure that Retry may
  // mend (after any other it goes), numbered when another upload of the
  // same name has one.
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
    var resized = item.resized ? ', ' + item.resized : '';
    item.path = path;
    item.alt = '';
    item.html = imgHTML(path, item.width, '');
    if (!replaceInBody(item.marker, item.html)) {
      insertAtCursor(item.html); // the placeholder was edited away
    }
    item.marker = '';
    setState(item, 'Added to the body' + resized, 'done');
    item.li.setAttribute('data-path', path);
    setActions(item, ['Remove']);
    addAltField(item);
    announce(item.name + ' was ' + (item.resized ? item.resized + ', ' : '') +
      'uploaded and added to the body. Describe it in its Description field.');
  }

  // canRetry says whether trying again can help after err: after a code
  // config.json lists as retryable (client/api's Code.Retryable), and no
  // other of the API's. A failure with no code (a lost connection, an
  // answer the page could not read) or one the API does not know (some
  // object stores have their own) is judged by its status: none (the
  // request got no answer), 408, 429 or a server's fault.
  function canRetry(err) {
    if (err.code && config.retryable_codes.indexOf(err.code) >= 0) {
      return true;
    }
    if (err.code && config.messages[err.code]) {
      return false;
    }
    var s = err.status;
    return s === 0 || s === 408 || s === 429 || s >= 500;
  }

  function failed(item, err) {
    var text = err.text ? item.name + ': ' + err.text + '.' : serverSentence(err, item.name, item.file.size);
    if (err.code) {
      text += ' (' + err.code + ')'; // for the help center's support, as the CLI quotes it
    }
    setState(item, text, 'failed');
    if (canRetry(err)) {
      setMarker(item, placeholder(item, true));
      setActions(item, ['Retry', 'Remove']);
    } else {
      // Trying again cannot help: nothing will go where it was picked.
      setMarker(item, '');
      setActions(item, ['Remove']);
    }
    announce(text, 'error');
  }

  // refuse says why item's file is not uploaded, before any request.
  function refuse(item, why) {
    setMarker(item, '');
    setState(item, why, 'failed');
    setActions(item, ['Remove']);
    announce(why, 'error');
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

  // remove takes item out of the list, and a published picture out of the
  // body; the picture is then deleted from the server after UNDO_SECONDS
  // unless Undo brings it back.
  function remove(item) {
    if (!item.html) {
      setMarker(item, '');
      announce(item.name + ' was removed from the list.');
      dropItem(item);
      return;
    }
    item.removedAt = takeOutOfBody(item);
    var seconds = undoSeconds();
    setState(item, 'Removed from the body; deleting the picture in ' + seconds + ' s…', 'removing');
    setActions(item, ['Undo']);
    announce(item.name + ' was removed from the body. It will be deleted from the server in ' + seconds +
      ' seconds unless you press Undo.');
    item.deleteTimer = setTimeout(function () { deletePicture(item, false); }, seconds * 1000);
    pendingDeletes.push(item);
  }

  // takeOutOfBody takes item's <img> out of the body and answers where it
  // was (-1: it was no longer there).
  function takeOutOfBody(item) {
    var at = body.value.indexOf(item.html);
    if (at >= 0) {
      replaceInBody(item.html, '');
      return at;
    }
    // The tag was edited by hand: take out the first <img> of its path.
    var tag = new RegExp('<img src="' + escapeAttr(item.path).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '"[^>]*>');
    var m = tag.exec(body.value);
    if (m) {
      at = m.index;
      replaceInBody(m[0], '');
    }
    return m ? at : -1;
  }

  function undoSeconds() {
    var n = parseFloat(form.getAttribute('data-undo-seconds'));
    return n >= 0 ? n : UNDO_SECONDS;
  }

  // undo puts a removed picture back where it was, before it is deleted.
  function undo(item) {
    stopDeleteTimer(item);
    var at = item.removedAt >= 0 ? Math.min(item.removedAt, body.value.length) : body.value.length;
    body.setSelectionRange(at, at);
    insertAtCursor(item.html);
    setState(item, 'Added to the body', 'done');
    setActions(item, ['Remove']);
    announce(item.name + ' is back in the body.');
  }

  // The removed pictures waiting for their deletion.
  var pendingDeletes = [];

  function stopDeleteTimer(item) {
    clearTimeout(item.deleteTimer);
    item.deleteTimer = null;
    var i = pendingDeletes.indexOf(item);
    if (i >= 0) {
      pendingDeletes.splice(i, 1);
    }
  }

  // deletePicture deletes item's picture from the server with its upload
  // token; keepalive lets the request outlive the page. A 404 means it is
  // gone already.
  function deletePicture(item, keepalive) {
    stopDeleteTimer(item);
    setState(item, 'Deleting the picture…', 'removing');
    setActions(item, []);
    var id = item.path.replace(/^.*\//, '').replace(/\..*$/, '');
    var headers = { 'Accept': 'application/json' };
    headers[UPLOAD_TOKEN_HEADER] = item.upload.token;
    return fetch(DELETE_URL.replace('{id}', encodeURIComponent(id)), {
      method: 'DELETE', headers: headers, credentials: 'same-origin', keepalive: keepalive
    }).then(function (res) {
      if (res.status === 204 || res.status === 404) {
        dropItem(item);
        announce(item.name + ' was deleted from the server.');
        return;
      }
      return res.text().then(function (text) {
        failIfErrors(parseJSON(text), res.status);
        throw new UploadError({ status: res.status, text: 'the server gave an unexpected answer (HTTP ' + res.status + ')' });
      });
    }).then(null, function (err) {
      if (!(err instanceof UploadError)) {
        err = new UploadError({ text: 'the server could not be reached (network error)' });
      }
      deleteFailed(item, err);
    });
  }

  // deleteFailed says a removed picture is still online, and offers to try
  // again when that can help.
  function deleteFailed(item, err) {
    var why = err.text || err.detail || 'HTTP ' + err.status;
    var text = item.name + ' is out of the body but still online: ' + why + '.';
    if (err.code) {
      text += ' (' + err.code + ')';
    }
    if (err.status === 403) {
      text += ' Ask the site\'s moderators to delete it.';
    }
    setState(item, text, 'failed');
    setActions(item, err.status === 403 ? [] : ['Delete']);
    announce(text, 'error');
  }

  // A page closed while removed pictures wait for their deletion sends it
  // as it goes: Remove means gone.
  window.addEventListener('pagehide', function () {
    pendingDeletes.slice().forEach(function (item) { deletePicture(item, true); });
  });

  /* ---------- Files in ---------- */

  // checked is the last file's check: each file's first bytes are read as
  // soon as it comes, but it is prepared (its thumbnail, and a photo made
  // smaller) and queued only after the files picked before it, so uploads
  // start in the order the files were picked and one photo at a time is
  // held in memory to be resized.
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
      var sniffed = sniff(file);
      checked = checked.then(function () {
        return sniffed;
      }).then(function (found) {
        if (item.cancelled) {
          return '';
        }
        item.format = found.format;
        return typeRefusal(file, found) || prepare(item, found);
      }).then(function (why) {
        if (item.cancelled) {
          return;
        }
        if (why) {
          refuse(item, why);
          return;
        }
        enqueue(item);
      }, function () {
        if (!item.cancelled) {
          refuse(item, item.name + ' could not be read.');
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
    // The codes after which trying again can succeed: Retry is offered.
    config.retryable_codes = Array.isArray(c.retryable_codes) ? c.retryable_codes : [];
    // The reasons a reader may report a picture for (none: no Report action).
    config.report_reasons = Array.isArray(c.report_reasons) ? c.report_reasons : [];
    config.max_report_detail = Number(c.max_report_detail) || 0;
    updatePreview(); // pictures already in the body get their Report action
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
  title.addEventListener('input', updateTitle);
  body.addEventListener('input', updatePreview);
  updateTitle();
  updatePreview();

  loadConfig().then(applyConfig, function (err) {
    limits.textContent = 'The upload settings could not be loaded.';
    announce('Pictures cannot be uploaded: the settings could not be loaded (' + err.message + ').', 'error');
  });
})();
