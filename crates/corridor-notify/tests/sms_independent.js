// Segments messages with the npm package `sms-segments-calculator` (Twilio's
// calculator), for tests/sms_independent.rs to compare with corridor-notify.
//
// Usage: node sms_independent.js PACKAGE_DIR < messages.json > answers.json
// messages.json is a JSON array of strings; each answer is
// {encoding, segments, units, segmentUnits, segmentTexts}.
// Smart encoding is off (the constructor's third argument): the calculator
// then counts the text exactly as GSM 03.38 / UCS-2, no substitutions. It
// does not rewrite line breaks (it only warns about them).
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const { SegmentedMessage } = require(path.resolve(dir));
const messages = JSON.parse(fs.readFileSync(0, 'utf8'));

const answers = messages.map((text) => {
  try {
    const m = new SegmentedMessage(text, 'auto', false);
    const bitsPerUnit = m.encodingName === 'GSM-7' ? 7 : 16;
    const segmentUnits = [];
    const segmentTexts = [];
    for (const seg of m.segments) {
      segmentUnits.push(seg.messageSizeInBits() / bitsPerUnit);
      // A plain loop: Segment extends Array, and its map/filter would build
      // new Segments (species), whose constructor adds header entries.
      let t = '';
      for (let i = 0; i < seg.length; i++) {
        if (!seg[i].isUserDataHeader) t += seg[i].raw;
      }
      segmentTexts.push(t);
    }
    return {
      encoding: m.encodingName,
      segments: m.segmentsCount,
      units: m.messageSize / bitsPerUnit,
      segmentUnits,
      segmentTexts,
    };
  } catch (e) {
    return { error: String(e) };
  }
});
process.stdout.write(JSON.stringify(answers));
