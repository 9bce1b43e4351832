"""FreeRADIUS provisioning: credentials per internet service, the SQL tables FreeRADIUS
reads kept in step with billing, CoA/Disconnect to the NAS, and accounting read back."""
