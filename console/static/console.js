// The console's only script: shows each image's dimensions, which the
// browser knows once it has loaded the picture.
"use strict";
for (const img of document.querySelectorAll("img[data-dims]")) {
  const show = () => {
    const out = document.getElementById(img.dataset.dims);
    if (out && img.naturalWidth > 0) out.textContent = img.naturalWidth + " × " + img.naturalHeight + " px";
  };
  if (img.complete) show(); else img.addEventListener("load", show);
}
