"""Links between records: the references FtM entities make to each other (a Membership's
member and organisation, a passport's holder) and the identities supervisors confirmed.
Link analysis builds on these edges; every read of them goes through the policy."""
