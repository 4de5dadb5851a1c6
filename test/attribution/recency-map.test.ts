import { describe, expect, it } from "vitest";
import { RecencyMap } from "../../src/attribution/recency-map.js";

describe("RecencyMap", () => {
  it("forgets the least recently set entry beyond its size; setting again makes an entry recent", () => {
    const map = new RecencyMap<string, number>(3);
    map.set("a", 1);
    map.set("b", 2);
    map.set("c", 3);
    map.set("a", 10); // a is now the most recent
    map.set("d", 4); // b goes
    expect([map.has("a"), map.has("b"), map.has("c"), map.has("d"), map.size]).toEqual([true, false, true, true, 3]);
    map.set("e", 5); // c goes
    map.set("f", 6); // a goes
    expect([map.get("a"), map.get("c"), map.get("d"), map.get("e"), map.get("f")]).toEqual([undefined, undefined, 4, 5, 6]);
  });

  it("matches a plain model through a long run of sets, re-sets and deletes", () => {
    const limit = 50;
    const map = new RecencyMap<number, number>(limit);
    const model: number[] = []; // keys, oldest first
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let step = 0; step < 20_000; step++) {
      const key = next() % 120;
      if (next() % 10 === 0) {
        map.delete(key);
        const at = model.indexOf(key);
        if (at >= 0) model.splice(at, 1);
      } else {
        map.set(key, step);
        const at = model.indexOf(key);
        if (at >= 0) model.splice(at, 1);
        model.push(key);
        if (model.length > limit) model.shift();
      }
      if (step % 997 === 0) {
        expect(map.size).toBe(model.length);
        for (let probe = 0; probe < 120; probe++) expect(map.has(probe)).toBe(model.includes(probe));
      }
    }
  });
});
