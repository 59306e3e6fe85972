// Audible feedback for scanning: a short high beep when a scan is taken, a low double
// buzz when it is refused, so a person looking at the shelf knows without looking back.

import type { Tone } from "./movement";

export interface Beep {
  /** Hz. */
  frequency: number;
  /** Milliseconds per pulse. */
  durationMs: number;
  pulses: number;
  type: OscillatorType;
}

/** The sound of each feedback tone. */
export function beepFor(tone: Tone): Beep {
  switch (tone) {
    case "ok":
      return { frequency: 1760, durationMs: 90, pulses: 1, type: "sine" };
    case "warn":
      return { frequency: 880, durationMs: 120, pulses: 2, type: "triangle" };
    case "error":
      return { frequency: 220, durationMs: 180, pulses: 2, type: "square" };
  }
}

let context: AudioContext | null = null;

/** Plays the tone's beep; silent where the webview has no audio (it never throws). */
export function playTone(tone: Tone): void {
  try {
    const Ctor = globalThis.AudioContext;
    if (!Ctor) return;
    context ??= new Ctor();
    const beep = beepFor(tone);
    const start = context.currentTime;
    for (let i = 0; i < beep.pulses; i++) {
      const at = start + (i * 2 * beep.durationMs) / 1000;
      const osc = context.createOscillator();
      const gain = context.createGain();
      osc.type = beep.type;
      osc.frequency.value = beep.frequency;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(context.destination);
      osc.start(at);
      osc.stop(at + beep.durationMs / 1000);
    }
  } catch {
    // No audio device (a headless test display): the colour still tells.
  }
}
