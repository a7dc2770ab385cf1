// extension/background/notify.js's pure part: which PMs of the list are news. Prints one JSON line.
import { freshTopics } from "../../extension/background/notify.js";
const list = (...xs) => xs.map(([topic_id, highest_post_number, last_poster]) => ({ topic_id, highest_post_number, last_poster }));
const first = freshTopics(null, list([1, 3, "bob"], [2, 1, "alice"]), "alice");
const later = freshTopics(first.seen, list([1, 4, "bob"], [2, 2, "Alice"], [3, 1, "carol"], [4, "x", "bob"]), "alice");
const again = freshTopics(later.seen, list([1, 4, "bob"], [3, 1, "carol"]), "alice");
const older = freshTopics(later.seen, list([1, 2, "bob"]), "alice");
console.log(JSON.stringify({ first, later, again, older }));
