package store

import "context"

// KeyIDsInUse lists the keyring key ids that sealed or keyed any stored
// secret. Start-up compares it with the key file so a lost or swapped key
// file is a clear error, never a silently unreadable database.
func (s *Store) KeyIDsInUse(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key_id FROM factors WHERE key_id <> ''
		UNION SELECT key_id FROM recovery_codes UNION SELECT key_id FROM sms_codes
		UNION SELECT key_id FROM notifications WHERE sent_at = 0 AND failed_at = 0 ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
