// Package protocol holds the wire types of plasma's sync protocol, which
// is the Replicache push/pull protocol version 1, and their strict
// decoders. The server (sync/server) uses it, and so does
// sync/synctest's client simulator.
//
// # Requests
//
// A push carries mutations, each named for a mutator and numbered per
// client from 1:
//
//	{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1",
//	 "mutations":[{"clientID":"c1","id":1,"name":"createTodo","args":{"id":"t1"},"timestamp":2722.1}]}
//
// A pull asks for what changed for a client group since its cookie:
//
//	{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}
//
// DecodePush and DecodePull accept exactly these shapes. Every field
// above is required, except a mutation's args (a JavaScript client omits
// undefined args; they decode as null). Unknown fields are ignored, so a
// newer client's additions do not break an older server. A field of the
// wrong JSON type, a missing field, an empty or over-long id, a mutation
// id below 1, a body larger than MaxMessageBytes or that is not one JSON
// object is a *DecodeError (errors.Is ErrMalformed). A pushVersion or
// pullVersion other than 1 is a *VersionError, checked first, so a
// request of another protocol version is recognised as such whatever its
// other fields look like.
//
// # Responses
//
// A pull response always encodes lastMutationIDChanges as a JSON object
// and patch as a JSON array, never null (the Replicache client rejects
// null): see PullResponse.AppendJSON. Two error bodies change a client's
// behaviour when they come with HTTP status 200: ClientStateNotFound and
// VersionNotSupported (ErrorResponse).
//
// # Cookies
//
// A cookie is opaque to clients, which only compare its order (see
// CompareCookies). plasma's cookie is the JSON object
// {"order":<integer>,"cvr":"<id>"}: Order is a global, monotonic counter
// and CVR names the server-side client view record the response was
// computed from (see package sync/server). ParseCookie recognises it; any
// other well-shaped cookie a client sends — null, a number, a string,
// another server's object — is not an error, it simply names no stored
// view. A value of another shape (an array, true, an object without a
// number or string "order") makes DecodePull fail. CookieOrder extracts
// the numeric order of any cookie.
package protocol
