// The console's only script: shows the dimensions of each image stored
// before sizes were kept (the server writes the others' into the page),
// which the browser knows once it has loaded the picture.
"use strict";
for (const img of document.querySelectorAll("img[data-dims]")) {
  const show = () => {
    const out = document.getElementById(img.dataset.dims);
    if (!out || img.naturalWidth === 0) return;
    // A thumbnail is a variant of at most data-thumb px wide: at that
    // width, the original may be wider (its page shows its size).
    const thumb = Number(img.dataset.thumb || 0);
    out.textContent = thumb > 0 && img.naturalWidth >= thumb
      ? "at least " + img.naturalWidth + " × " + img.naturalHeight + " px"
      : img.naturalWidth + " × " + img.naturalHeight + " px";
  };
  if (img.complete) show(); else img.addEventListener("load", show);
}
