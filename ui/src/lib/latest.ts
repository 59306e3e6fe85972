/**
 * Reads whose answers may come back out of order, of which only the read asked last may
 * be shown: an answer to an earlier question never overwrites a later one.
 *
 * The window reads the replica's status after each recording and after each background
 * sync. Those reads run concurrently in the shell, so a read asked before a sync ended
 * can answer after the read asked once it ended, and showed "1 pending" for an entry
 * already sent, until the next sync a minute later.
 */
export function latestOnly<T>(): (read: () => Promise<T>) => Promise<{ value: T } | null> {
  let asked = 0;
  return async (read) => {
    const mine = ++asked;
    try {
      const value = await read();
      return mine === asked ? { value } : null;
    } catch (error) {
      // A later read answers instead; its own failure, if any, is the one to show.
      if (mine === asked) throw error;
      return null;
    }
  };
}
