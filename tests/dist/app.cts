import ferrio = require("ferrio");
export const io: ferrio.Server = new ferrio.Server({ maxHttpBufferSize: 1e6 });
// @ts-expect-error: a number is not a room list
io.to(42);
