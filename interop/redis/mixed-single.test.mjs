// Two-node clusters on one redis-server: classic and sharded, sio+sio and sio+Node (mixed.mjs).

import { mixedSuites } from "./mixed.mjs";

mixedSuites([
  { name: "classic, sio+sio", redis: "single", mode: "classic", kinds: ["sio", "sio"] },
  { name: "classic, sio+Node", redis: "single", mode: "classic", kinds: ["sio", "node"] },
  { name: "sharded (static), sio+sio", redis: "single", mode: "sharded", sub: "static", kinds: ["sio", "sio"] },
  { name: "sharded (dynamic), sio+Node", redis: "single", mode: "sharded", sub: "dynamic", kinds: ["sio", "node"] },
]);
