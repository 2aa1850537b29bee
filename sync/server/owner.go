package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/internal/store"
)

// BindGroup binds client group groupID to userID by the rules the
// handler's own pushes and pulls follow: the first user to touch a group
// owns it for good, a group of another user returns an error matching
// ErrForbiddenGroup, and binding a new group past
// Options.MaxGroupsPerUser drops the user's least recently seen groups.
// On SQLite it takes the handler's write turn. Give it to the realtime
// hub (realtime.Options.BindGroup) so that WebSocket connections bind
// groups by the same rules. The owner is read first: binding a group
// already bound writes nothing.
func (h *Handler[Ctx]) BindGroup(ctx context.Context, groupID, userID string) error {
	owner, found, err := store.GroupOwner(ctx, h.base, groupID)
	switch {
	case err != nil:
		return err
	case found && owner != userID:
		return fmt.Errorf("%w: group %q", ErrForbiddenGroup, groupID)
	case found:
		return nil
	}
	return h.writing(ctx, func() error {
		return h.base.Tx(ctx, func(tx *orm.Tx) error {
			created, err := store.BindGroupCreated(ctx, tx.DB, groupID, userID)
			if err != nil || !created {
				return err
			}
			return h.capGroups(ctx, tx.DB, userID, groupID)
		})
	})
}

// bindPull binds an unbound group to the pulling user, as a push does,
// and refuses a group of another user.
func (h *Handler[Ctx]) bindPull(ctx context.Context, group, userID string) (Kind, error) {
	err := h.BindGroup(ctx, group, userID)
	switch {
	case errors.Is(err, ErrForbiddenGroup):
		return KindForbidden, err
	case err != nil:
		return internal(err), err
	}
	return "", nil
}
