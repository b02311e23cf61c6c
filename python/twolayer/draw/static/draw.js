// The drawing page of `twolayer draw`: strokes on #canvas (pointer events: mouse, finger, pen) are sent to the
// server as PNG while drawing, one request at a time, and its answer fills #prediction, #bars and #sample.
"use strict";

const canvas = document.getElementById("canvas");
const ink = canvas.getContext("2d");
const sample = document.getElementById("sample").getContext("2d");
const prediction = document.getElementById("prediction");
const statusLine = document.getElementById("status");
const bars = [];

for (let digit = 0; digit < 10; digit++) {
  const row = document.createElement("li");
  row.dataset.digit = digit;
  row.innerHTML = `<span class="digit">${digit}</span><span class="track"><span class="bar"></span></span>` +
    `<span class="value"></span>`;
  document.getElementById("bars").append(row);
  bars.push(row);
}

let stroke = null; // the last point of the stroke being drawn
let drawn = false; // any ink on the canvas
let sending = false; // a request in flight
let changed = false; // ink drawn since the picture in flight was taken
let generation = 0; // bumped by Clear: answers about an earlier canvas are dropped

function clearCanvas() {
  generation++;
  ink.fillStyle = "#fff"; // the picture sent is black on white, as on paper
  ink.fillRect(0, 0, canvas.width, canvas.height);
  ink.lineWidth = canvas.width / 14; // MNIST's strokes: about 2 pixels of 28
  ink.lineCap = ink.lineJoin = "round";
  ink.strokeStyle = ink.fillStyle = "#000";
  drawn = changed = false;
  prediction.textContent = "";
  sample.clearRect(0, 0, 28, 28);
  for (const row of bars) show(row, 0);
  bars.forEach((row) => row.classList.remove("best"));
  settle();
}

function show(row, p) {
  row.dataset.probability = p;
  row.querySelector(".bar").style.width = `${(100 * p).toFixed(1)}%`;
  row.querySelector(".value").textContent = p ? p.toFixed(3) : "";
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

function drawTo(event) {
  const [x, y] = point(event);
  ink.beginPath();
  ink.moveTo(...stroke);
  ink.lineTo(x, y);
  ink.stroke();
  stroke = [x, y];
}

canvas.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  stroke = point(event);
  ink.beginPath();
  ink.arc(...stroke, ink.lineWidth / 2, 0, 2 * Math.PI);
  ink.fill();
  inked();
});
canvas.addEventListener("pointermove", (event) => {
  if (stroke === null) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const each of events.length ? events : [event]) drawTo(each);
  inked();
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => { stroke = null; });
}
document.getElementById("clear").addEventListener("click", clearCanvas);

function inked() {
  drawn = changed = true;
  if (!sending) send();
  settle();
}

async function send() {
  const mine = generation;
  sending = true;
  changed = false;
  settle();
  try {
    const picture = await new Promise((done) => canvas.toBlob(done, "image/png"));
    const answer = await fetch("predict", { method: "POST", headers: { "Content-Type": "image/png" }, body: picture });
    const json = answer.headers.get("Content-Type") === "application/json";
    const result = json ? await answer.json() : { error: `${answer.status} ${answer.statusText}` };
    if (mine === generation) {
      if (answer.ok) display(result);
      else statusLine.textContent = result.error;
    }
  } catch (error) {
    statusLine.textContent = `The server did not answer (${error.message}); is twolayer draw still running?`;
  }
  sending = false;
  if (changed && drawn) send();
  settle();
}

function display(result) {
  const p = result.probabilities;
  prediction.textContent = `${result.digit} (probability ${p[result.digit].toFixed(3)})`;
  bars.forEach((row, digit) => {
    show(row, p[digit]);
    row.classList.toggle("best", digit === result.digit);
  });
  const pixels = sample.createImageData(28, 28);
  result.sample.forEach((v, i) => {
    pixels.data.fill(Math.round(255 * v), 4 * i, 4 * i + 3);
    pixels.data[4 * i + 3] = 255;
  });
  sample.putImageData(pixels, 0, 0);
  statusLine.textContent = "Draw with the mouse, a finger or a pen.";
}

// "busy" while a picture is being read, "idle" once the prediction shown is of the canvas as it is.
function settle() {
  document.body.dataset.state = sending || (changed && drawn) ? "busy" : "idle";
}

clearCanvas();
