import type { ActorSystem } from '@otp-chat/actor';
import { type AnyCommandSpec, defineCommand } from '@otp-chat/event-bus';
import { z } from 'zod';

/** What `status` reports besides the node's name. */
export interface NodeStatusSource {
  readonly system: ActorSystem;
  /** The other nodes of the cluster. @default `system.nodes()` */
  readonly nodes?: () => readonly string[];
  /** `started`, or `stopping` once the node drains. */
  readonly state: () => 'started' | 'stopping';
  /** Seconds since the node started. */
  readonly uptimeSeconds: () => number;
  /** Sessions on this node. */
  readonly sessions: () => number | Promise<number>;
}

/**
 * ejabberdctl's `status` (`ejabberd_admin:status/0`: "The node … is started") and the cluster's
 * `list_cluster` as `nodes`, both `admin` commands registered on the bus like any other: the API
 * and the CLI reach them the same way.
 */
export function nodeCommands(source: NodeStatusSource): AnyCommandSpec[] {
  const others = () => source.nodes?.() ?? source.system.nodes();
  return [
    defineCommand({
      name: 'status',
      tags: ['server'],
      description: "Get status of the node (ejabberdctl's status)",
      policy: 'admin',
      args: z.object({}),
      result: z.object({
        node: z.string(),
        state: z.enum(['started', 'stopping']),
        uptimeSeconds: z.number().int(),
        sessions: z.number().int(),
        actors: z.number().int(),
      }),
      handler: async () => ({
        node: source.system.node,
        state: source.state(),
        uptimeSeconds: Math.floor(source.uptimeSeconds()),
        sessions: await source.sessions(),
        actors: source.system.count(),
      }),
    }),
    defineCommand({
      name: 'nodes',
      tags: ['cluster'],
      description: 'List the nodes of the cluster (list_cluster): this node first, then the others',
      policy: 'admin',
      args: z.object({}),
      result: z.array(z.object({ node: z.string(), up: z.boolean(), self: z.boolean() })),
      handler: () => [
        { node: source.system.node, up: true, self: true },
        ...others().map((node) => ({ node, up: source.system.isNodeUp(node), self: false })),
      ],
    }),
  ];
}
