package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/orm"
)

// bindPull binds an unbound group to the pulling user, as a push does,
// and refuses a group of another user. The owner is read first: the
// common pull, of a group already bound, writes nothing.
func (h *Handler[Ctx]) bindPull(ctx context.Context, group, userID string) (Kind, error) {
	owner, found, err := GroupOwner(ctx, h.base, group)
	if err != nil {
		return internal(err), err
	}
	if found && owner != userID {
		return KindForbidden, fmt.Errorf("%w: group %q", ErrForbiddenGroup, group)
	}
	if found {
		return "", nil
	}
	err = h.writing(ctx, func() error {
		return h.base.Tx(ctx, func(tx *orm.Tx) error {
			created, err := bindGroup(ctx, tx.DB, group, userID)
			if err != nil || !created {
				return err
			}
			return h.capGroups(ctx, tx.DB, userID, group)
		})
	})
	switch {
	case errors.Is(err, ErrForbiddenGroup): // another user bound it since
		return KindForbidden, err
	case err != nil:
		return internal(err), err
	}
	return "", nil
}
