// Passkey pages, progressively enhanced: the form (hidden in the HTML) is shown only where the
// browser can use passkeys. Submitting it asks the browser for a passkey with the options the page
// carries, puts the browser's answer (JSON) in the form, and posts it. A cancelled or failed
// request still posts, with no answer, so the server says what to do next in its error summary.
const form = document.querySelector('form[data-passkey]');
const options = document.getElementById('passkey-options');
const webauthn = globalThis.SimpleWebAuthnBrowser;

if (form && options && webauthn && webauthn.browserSupportsWebAuthn()) {
  form.hidden = false;
  for (const note of document.querySelectorAll('[data-passkey-unsupported]')) note.hidden = true;
  let answered = false;
  form.addEventListener('submit', async (event) => {
    if (answered) return;
    event.preventDefault();
    const optionsJSON = JSON.parse(options.textContent);
    try {
      const answer = form.dataset.passkey === 'register' ? await webauthn.startRegistration({ optionsJSON }) : await webauthn.startAuthentication({ optionsJSON });
      form.elements.credential.value = JSON.stringify(answer);
    } catch {
      form.elements.credential.value = '';
    }
    answered = true;
    form.requestSubmit();
  });
}
