// The page's microphone tap (an AudioWorklet, run on the browser's audio thread). Its node is
// set to one input channel, so Web Audio has already mixed the input down to mono, at the
// context's rate (the model's): this only gathers blocks of `hop` samples and posts each one
// to the page, which keeps the rolling window (modnet::LiveWindow).
class ModnetCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.hop = options.processorOptions.hop;
    this.block = new Float32Array(this.hop);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      let i = 0;
      while (i < channel.length) {
        const n = Math.min(channel.length - i, this.hop - this.filled);
        this.block.set(channel.subarray(i, i + n), this.filled);
        this.filled += n;
        i += n;
        if (this.filled === this.hop) {
          this.port.postMessage(this.block, [this.block.buffer]);
          this.block = new Float32Array(this.hop);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('modnet-capture', ModnetCapture);
