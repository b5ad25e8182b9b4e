// The one-time code step: the 6 digits the chip shows when its button is pressed.
// A wrong code says how many tries are left; the third blocks the activation.

// MitID's rule: the third wrong code in a row blocks (server/api BlockAfter).
const TRIES = 3;

// What may stand between the digits as a person copies them: the chip shows "082 171";
// a phone's keyboard or a paste may bring a no-break space, a hyphen or a dash, a dot.
const SEPARATORS = /[\s\u00a0\u2007\u202f.\-\u2010-\u2015\u2212_]/g;

// digits is the code as typed, without separators.
function digits(typed) {
  return typed.replace(SEPARATORS, '');
}

export function setup(flow) {
  const { i18n, api } = flow;
  const form = document.getElementById('code-form');
  const input = document.getElementById('code');
  const tries = document.getElementById('code-tries');
  const next = document.getElementById('submit-code');
  let busy = false;

  input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });

  function triesItem(n) {
    return n === 1 ? { key: 'code.tries_left.one' } : { key: 'code.tries_left.other', vars: { n } };
  }

  function enter(state) {
    input.value = '';
    input.removeAttribute('aria-invalid');
    // After a reload, earlier wrong codes still count: say so before the next try.
    const left = state.tries_left;
    tries.hidden = !(Number.isInteger(left) && left < TRIES);
    if (!tries.hidden) {
      const { key, vars } = triesItem(left);
      i18n.set(tries, key, vars);
    }
    flow.show('code');
  }

  function invalid(items) {
    tries.hidden = true;
    input.setAttribute('aria-invalid', 'true');
    flow.showError(items);
    input.focus();
    input.select();
  }

  function setBusy(on) {
    busy = on;
    form.setAttribute('aria-busy', String(on));
    next.setAttribute('aria-disabled', String(on));
    input.readOnly = on;
  }

  async function submit() {
    if (busy) return;
    flow.clearError();
    const code = digits(input.value);
    if (!/^[0-9]{6}$/.test(code)) {
      invalid(['error.code_format']);
      return;
    }
    setBusy(true);
    let state;
    try {
      state = await api.code(code);
    } catch (err) {
      setBusy(false);
      if (err.code === 'code_wrong') {
        invalid(Number.isInteger(err.triesLeft) ? ['error.code_wrong', triesItem(err.triesLeft)] : ['error.code_wrong']);
      } else if (err.code === 'code_format' || err.code === 'code_used') {
        invalid([err.key]);
      } else if (err.code === 'too_many_codes') {
        // The chip takes more codes later; the page says when.
        invalid([flow.messageOf(err)]);
      } else {
        flow.fail(err);
      }
      return;
    }
    setBusy(false);
    flow.render(state);
  }

  return { enter };
}
