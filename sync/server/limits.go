package server

import (
	"fmt"

	"github.com/plasma-go/plasma/internal/jsonx"
	"github.com/plasma-go/plasma/sync/protocol"
)

// checkIDs refuses a clientGroupID or profileID over Options.MaxIDBytes.
func (h *Handler[Ctx]) checkIDs(group, profile string) error {
	if err := h.checkID("clientGroupID", group); err != nil {
		return err
	}
	return h.checkID("profileID", profile)
}

func (h *Handler[Ctx]) checkID(field, id string) error {
	if len(id) > h.opts.MaxIDBytes {
		return fmt.Errorf("%s of %d bytes, over the limit of %d", field, len(id), h.opts.MaxIDBytes)
	}
	return nil
}

// checkPush refuses a push whose ids are over Options.MaxIDBytes or
// whose arguments are nested deeper than Options.MaxArgsDepth, before
// anything is applied. The depth comes from one scan of the arguments'
// bytes (jsonx.Scan), not a second decoding.
func (h *Handler[Ctx]) checkPush(req *protocol.PushRequest) error {
	if err := h.checkIDs(req.ClientGroupID, req.ProfileID); err != nil {
		return err
	}
	for i, m := range req.Mutations {
		if len(m.ClientID) > h.opts.MaxIDBytes { // the field name is only built for the error
			return h.checkID(fmt.Sprintf("mutations[%d].clientID", i), m.ClientID)
		}
		if d, _ := jsonx.Scan(m.Args); d > h.opts.MaxArgsDepth {
			return fmt.Errorf("mutations[%d].args nested %d deep, over the limit of %d", i, d, h.opts.MaxArgsDepth)
		}
	}
	return nil
}
