// The help page (help.html): its words in the language the person chose on the
// activation page (the same stored choice and switch), and the list of every error
// message the activation page can show, made from the catalogue, each with what it
// means and what to do (help.<key>), so that a new message cannot be left out.
//
// Like app.js, it finds its sibling modules through <meta name="assets">: the server
// serves them under their hashed names only, so this bit of lookup cannot itself be
// imported from a shared module.

const manifest = readManifest();

function readManifest() {
  const meta = document.querySelector('meta[name="assets"]');
  if (!meta) return {};
  try {
    const m = JSON.parse(meta.content);
    return m !== null && typeof m === 'object' ? m : {};
  } catch (err) {
    console.error('help: the asset manifest is not JSON:', err);
    return {};
  }
}

function asset(name) {
  const file = Object.hasOwn(manifest, name) ? manifest[name] : name;
  return new URL(file, document.baseURI).href;
}

// The messages the page shows: every error.* and module.* key, except the variants
// that add when to try again (error.chip_locked_until), which are the same error.
const MESSAGE = /^(error|module)\.[a-z_]+$/;

async function main() {
  const [page, i18nMod] = await Promise.all([import(asset('page.js')), import(asset('i18n.js'))]);
  const local = page.storage('localStorage');
  const i18n = await page.startLanguage(i18nMod, asset, local);
  const applyLanguage = () => page.applyLanguage(i18n);
  listErrors(i18n);
  applyLanguage();
  page.languageSwitch(i18n, i18nMod, local, applyLanguage);

  // The entries were not there when the browser looked for the fragment.
  const target = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
  target?.scrollIntoView();
}

// listErrors fills #error-list: each message as the page shows it, then what it
// means and what to do. An entry's id is the message's code ("error-chip_locked",
// "module-cancelled"), so the activation page can link to it.
function listErrors(i18n) {
  const list = document.getElementById('error-list');
  for (const key of Object.keys(i18n.catalogue)) {
    if (!MESSAGE.test(key) || key.endsWith('_until')) continue;
    const entry = document.createElement('div');
    entry.id = key.replace('.', '-');
    const term = document.createElement('dt');
    const meaning = document.createElement('dd');
    i18n.set(term, key);
    i18n.set(meaning, `help.${key}`);
    entry.append(term, meaning);
    list.append(entry);
  }
}

main().catch((err) => console.error('help: the page could not start:', err));
