// Two-node clusters on a 3-master Redis Cluster, sharded: sio+sio and sio+Node (mixed.mjs).

import { mixedSuites } from "./mixed.mjs";

mixedSuites([
  { name: "sharded (dynamic-private) on a Redis Cluster, sio+sio", redis: "cluster", mode: "sharded", sub: "dynamic-private", kinds: ["sio", "sio"] },
  { name: "sharded (dynamic) on a Redis Cluster, sio+Node", redis: "cluster", mode: "sharded", sub: "dynamic", kinds: ["sio", "node"] },
]);
