// Email code page: six boxes that behave like one field (type, backspace,
// arrows, paste anywhere), auto-submit when full, and a resend countdown.
const boxes = [...document.querySelectorAll("#otp input")];
const form = document.getElementById("verify-form");

function digitsOnly(text) {
  return (text || "").replace(/\D/g, "");
}

function fill(from, text) {
  const digits = digitsOnly(text).slice(0, boxes.length - from);
  digits.split("").forEach((d, i) => {
    boxes[from + i].value = d;
  });
  const next = Math.min(from + digits.length, boxes.length - 1);
  boxes[next].focus();
  maybeSubmit();
}

function maybeSubmit() {
  if (boxes.every((b) => /^\d$/.test(b.value))) form.requestSubmit();
}

boxes.forEach((box, i) => {
  box.maxLength = 1;
  box.addEventListener("input", () => {
    const digits = digitsOnly(box.value);
    if (digits.length > 1) {
      box.value = "";
      fill(i, digits);
      return;
    }
    box.value = digits;
    if (digits && i < boxes.length - 1) boxes[i + 1].focus();
    maybeSubmit();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Backspace" && !box.value && i > 0) {
      boxes[i - 1].focus();
      boxes[i - 1].value = "";
      event.preventDefault();
    } else if (event.key === "ArrowLeft" && i > 0) {
      boxes[i - 1].focus();
    } else if (event.key === "ArrowRight" && i < boxes.length - 1) {
      boxes[i + 1].focus();
    }
  });
  box.addEventListener("paste", (event) => {
    const text = event.clipboardData?.getData("text") ?? "";
    if (!digitsOnly(text)) return;
    event.preventDefault();
    fill(i, text);
  });
  box.addEventListener("focus", () => box.select());
});

// Resend: a countdown until the server would send a new code.
const resend = document.getElementById("resend");
const countdown = document.getElementById("resend-countdown");
const resendEmail = document.getElementById("resend-email");
if (resendEmail) {
  const emailInput = form.querySelector('input[name="email"]');
  document.getElementById("resend-form").addEventListener("submit", () => {
    resendEmail.value = emailInput?.value ?? "";
  });
}
let wait = Number.parseInt(resend?.dataset.wait ?? "0", 10);
function tick() {
  if (wait > 0) {
    resend.disabled = true;
    countdown.textContent = `You can ask for a new code in ${wait} s`;
    wait -= 1;
    setTimeout(tick, 1000);
  } else {
    resend.disabled = false;
    countdown.textContent = "";
  }
}
if (resend) tick();
form.dataset.ready = "true";
