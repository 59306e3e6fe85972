import { describe, expect, it } from "vitest";
import { latestOnly } from "./latest";

/** A promise settled by hand, to answer reads in any order. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Two reads asked one after the other, each answered by hand: `first` was asked first. */
function twoReads() {
  const read = latestOnly<number>();
  const first = deferred<number>();
  const second = deferred<number>();
  return { first, second, a: read(() => first.promise), b: read(() => second.promise) };
}

describe("latestOnly", () => {
  it("drops an earlier read that answers after a later one", async () => {
    const { first, second, a, b } = twoReads();
    second.resolve(0);
    expect(await b).toEqual({ value: 0 });
    first.resolve(1);
    expect(await a).toBeNull();
  });

  it("drops an earlier read that answers first, once a later one is asked", async () => {
    const { first, second, a, b } = twoReads();
    first.resolve(1);
    expect(await a).toBeNull();
    second.resolve(0);
    expect(await b).toEqual({ value: 0 });
  });

  it("keeps each read asked after the last one answered", async () => {
    const read = latestOnly<string>();
    expect(await read(() => Promise.resolve("a"))).toEqual({ value: "a" });
    expect(await read(() => Promise.resolve("b"))).toEqual({ value: "b" });
  });

  it("throws only the latest read's failure", async () => {
    const { first, second, a, b } = twoReads();
    first.reject(new Error("stale"));
    expect(await a).toBeNull();
    second.reject(new Error("fresh"));
    await expect(b).rejects.toThrow("fresh");
  });
});
