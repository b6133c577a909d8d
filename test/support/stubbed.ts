/**
 * `client` with some commands answered by `stubs` (by the command's class name) instead of the
 * server, and `failOnce` names that throw once: what moto cannot do, stood in for at the client
 * boundary (say which, and why, where it is used).
 */
export function stubbed<C extends { send: (command: never) => Promise<unknown> }>(
  client: C,
  stubs: Record<string, (input: never) => unknown>,
  failOnce: Set<string> = new Set(),
): C {
  const send = async (command: { constructor: { name: string }; input: never }) => {
    const name = command.constructor.name;
    if (failOnce.delete(name)) throw Object.assign(new Error(`${name} failed (injected)`), { name: 'ThrottlingException' });
    return name in stubs ? stubs[name](command.input) : client.send(command as never);
  };
  return { ...client, send } as unknown as C;
}
